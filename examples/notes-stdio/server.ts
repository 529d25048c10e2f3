// Example MCP server over stdio: a small notes app with tools, note resources (subscribable, with
// completion of the template's id), a prompt, log notifications, and the shared test-oriented tools.
// Run: node examples/notes-stdio/server.ts   (speaks JSON-RPC on stdin/stdout)
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';
import { registerTestTools } from '../shared/test-tools.ts';
import { type Note, NoteStore, noteUri } from './note-store.ts';

const SEED = [
  { title: 'Welcome', body: 'This is the notes example server. Add notes with add_note.' },
  { title: 'Groceries', body: 'Milk, eggs, coffee beans.' },
];

function noteLine(note: Note): string {
  return `${note.id}. ${note.title}`;
}

/** Builds the notes server around `store`. */
export function createNotesServer(store: NoteStore = new NoteStore(SEED)): McpServer {
  const mcp = new McpServer(
    { name: 'notes-stdio', version: '1.0.0' },
    {
      capabilities: { logging: {}, resources: { subscribe: true, listChanged: true } },
      instructions: 'Keeps short notes in memory. Notes are also readable as notes://<id> resources.',
    },
  );
  const subscribed = new Set<string>();

  /** Tells the client what changed: the resource list, and the note itself if it is subscribed. */
  async function noteChanged(note: Note, created: boolean): Promise<void> {
    if (created) mcp.sendResourceListChanged();
    const uri = noteUri(note.id);
    if (subscribed.has(uri)) await mcp.server.sendResourceUpdated({ uri });
  }

  mcp.registerTool(
    'add_note',
    {
      title: 'Add a note',
      description: 'Stores a new note and returns its id.',
      inputSchema: z.object({ title: z.string().min(1).max(200), body: z.string().max(100_000) }),
    },
    async function addNote({ title, body }, ctx) {
      const note = store.add(title, body);
      await ctx.mcpReq.log('info', { event: 'note_added', id: note.id, title }, 'notes');
      await noteChanged(note, true);
      return {
        content: [{ type: 'text', text: `Added note ${note.id}: ${title}` }],
        structuredContent: { id: note.id, uri: noteUri(note.id) },
      };
    },
  );

  mcp.registerTool(
    'update_note',
    {
      title: 'Update a note',
      description: "Replaces a note's body; subscribers of notes://<id> are told.",
      inputSchema: z.object({ id: z.string().min(1), body: z.string().max(100_000) }),
    },
    async function updateNote({ id, body }) {
      const note = store.update(id, body);
      if (note === undefined) return { content: [{ type: 'text', text: `No note with id ${id}` }], isError: true };
      await noteChanged(note, false);
      return { content: [{ type: 'text', text: `Updated note ${id}` }] };
    },
  );

  mcp.registerTool(
    'list_notes',
    { title: 'List notes', description: 'Lists every note by id and title.', annotations: { readOnlyHint: true } },
    function listNotes() {
      const notes = store.list();
      return {
        content: [{ type: 'text', text: notes.length === 0 ? 'No notes.' : notes.map(noteLine).join('\n') }],
        structuredContent: { notes: notes.map(({ id, title }) => ({ id, title })) },
      };
    },
  );

  mcp.registerTool(
    'search_notes',
    {
      title: 'Search notes',
      description: 'Finds notes whose title or body contains the query (case-insensitive).',
      inputSchema: z.object({ query: z.string().min(1) }),
      annotations: { readOnlyHint: true },
    },
    function searchNotes({ query }) {
      const hits = store.search(query);
      return {
        content: [{ type: 'text', text: hits.length === 0 ? `No notes match "${query}".` : hits.map(noteLine).join('\n') }],
        structuredContent: { notes: hits.map(({ id, title }) => ({ id, title })) },
      };
    },
  );

  mcp.registerResource(
    'note',
    new ResourceTemplate('notes://{id}', {
      list: () => ({
        resources: store.list().map((note) => ({ uri: noteUri(note.id), name: note.title, mimeType: 'text/markdown' })),
      }),
      complete: { id: (value) => store.list().map((note) => note.id).filter((id) => id.startsWith(value)) },
    }),
    { title: 'Note', description: 'One note as Markdown', mimeType: 'text/markdown' },
    function readNote(uri, variables) {
      const id = String(variables.id);
      const note = store.get(id);
      if (note === undefined) throw new Error(`No note with id ${id}`);
      return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: `# ${note.title}\n\n${note.body}\n` }] };
    },
  );

  mcp.registerPrompt(
    'summarize_notes',
    {
      title: 'Summarize notes',
      description: 'Asks the model to summarize the notes, optionally only those matching a query.',
      argsSchema: z.object({ query: z.string().optional().describe('Only notes containing this text') }),
    },
    function summarizeNotes({ query }) {
      const notes = query ? store.search(query) : store.list();
      const listing = notes.map((note) => `## ${note.title}\n${note.body}`).join('\n\n');
      return {
        description: query ? `Summary of notes matching "${query}"` : 'Summary of all notes',
        messages: [
          {
            role: 'user',
            content: { type: 'text', text: `Summarize these ${notes.length} notes in a few bullet points:\n\n${listing}` },
          },
        ],
      };
    },
  );

  mcp.server.setRequestHandler('resources/subscribe', (request) => {
    subscribed.add(request.params.uri);
    return {};
  });
  mcp.server.setRequestHandler('resources/unsubscribe', (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });

  registerTestTools(mcp);
  return mcp;
}

if (import.meta.main) {
  await createNotesServer().connect(new StdioServerTransport());
}
