/** The portal's entry: styles, in-portal link handling, and the app mounted on #app. */
import { render } from 'preact';
import { App } from './App.tsx';
import { onLinkClick } from './lib/router.ts';
import './styles.css';

document.addEventListener('click', onLinkClick);
render(<App />, document.getElementById('app')!);
