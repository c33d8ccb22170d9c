/** The part of a socket a TurnCork uses. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Makes the statements a pipelined connection sends in one turn of the event loop leave in one socket
 * write: the socket is corked at the first and uncorked once the turn's promise jobs have run (a
 * nextTick queued from them runs after them all). The drivers otherwise write each statement on its own.
 */
export class TurnCork {
  readonly #socket: Corkable;
  #corked = false;

  constructor(socket: Corkable) {
    this.#socket = socket;
  }

  /** Call before each write. */
  cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(this.#uncork);
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };
}
