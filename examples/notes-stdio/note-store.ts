// In-memory notes for the notes-stdio example: numbered ids, case-insensitive search.

export interface Note {
  id: string;
  title: string;
  body: string;
}

export class NoteStore {
  readonly #notes = new Map<string, Note>();
  #nextId = 1;

  constructor(seed: ReadonlyArray<Omit<Note, 'id'>> = []) {
    for (const note of seed) this.add(note.title, note.body);
  }

  add(title: string, body: string): Note {
    const note = { id: String(this.#nextId++), title, body };
    this.#notes.set(note.id, note);
    return note;
  }

  /** Replaces the body; undefined when there is no such note. */
  update(id: string, body: string): Note | undefined {
    const note = this.#notes.get(id);
    if (note === undefined) return undefined;
    note.body = body;
    return note;
  }

  get(id: string): Note | undefined {
    return this.#notes.get(id);
  }

  list(): Note[] {
    return [...this.#notes.values()];
  }

  search(query: string): Note[] {
    const needle = query.toLowerCase();
    return this.list().filter(
      (note) => note.title.toLowerCase().includes(needle) || note.body.toLowerCase().includes(needle),
    );
  }
}

/** The URI of a note's resource. */
export function noteUri(id: string): string {
  return `notes://${id}`;
}
