// The daemon's link and sync lifecycle as one explicit state machine (README.md, "Link states").
// Every change of state goes through `to()`, which checks it against the table, keeps what the
// link's health is (what `status` reports as `link`), logs the transition with --verbose and
// emits it. Work waiting to be done (a store read, a full sync, the fallback) is not state: the
// daemon keeps it beside the machine.

/** Where the daemon is in bringing the MCU's list in line with the store. */
export type SyncState =
  /** No transport open (at start, and after the serial port was lost). */
  | "disconnected"
  /** The port is open; HELLO (version, capacity, instance) is being exchanged. */
  | "handshaking"
  /** Reading the store, writing fragments, sending the list or deltas. */
  | "syncing"
  /** Idle: the MCU holds the store's list; nothing runs until inotify, the MCU or a client. */
  | "in-sync"
  /** Idle: the store holds more profiles than the MCU can; the MCU keeps its list until one goes. */
  | "held"
  /** A step failed; one timer (doubling up to backoffMaxMs) or any change ends the wait. */
  | "backoff"
  | "stopped";

/** What `status().link` says: the health of the link, kept across states. */
export type LinkState = "connecting" | "ok" | "not-responding" | "error" | "stopped";

const ANY_LIVE: SyncState[] = ["disconnected", "backoff", "stopped"];

/** The transitions allowed from each state. */
export const TRANSITIONS: Record<SyncState, readonly SyncState[]> = {
  disconnected: ["handshaking", "backoff", "stopped"],
  handshaking: ["syncing", ...ANY_LIVE],
  syncing: ["syncing", "in-sync", "held", "handshaking", ...ANY_LIVE],
  "in-sync": ["syncing", "handshaking", ...ANY_LIVE],
  held: ["syncing", "handshaking", ...ANY_LIVE],
  backoff: ["disconnected", "handshaking", "syncing", "backoff", "stopped"],
  stopped: [],
};

/** Why a step failed, as the machine sees it (decides the link health and where a retry starts). */
export type Failure =
  | { kind: "timeout"; message: string }
  | { kind: "closed"; message: string }
  | { kind: "version"; message: string }
  | { kind: "other"; message: string };

export class LinkStateMachine {
  private current: SyncState = "disconnected";
  private health: LinkState = "connecting";
  private healthError = "";
  /** The state a retry after backoff starts from. */
  private resumeAt: SyncState = "disconnected";

  constructor(
    private readonly say: (line: string) => void,
    private readonly onHealth: (link: LinkState) => void,
    private readonly verbose: boolean,
  ) {}

  get state(): SyncState {
    return this.current;
  }

  get link(): LinkState {
    return this.current === "stopped" ? "stopped" : this.health;
  }

  get linkError(): string {
    return this.healthError;
  }

  /** True when the link has answered HELLO and no failure since has put it in doubt. */
  get linkUp(): boolean {
    return this.health === "ok";
  }

  /** Moves to `next`; a transition the table does not allow is a bug and throws. */
  to(next: SyncState, why = ""): void {
    const from = this.current;
    if (!TRANSITIONS[from].includes(next)) {
      throw new Error("link state machine: no transition from " + from + " to " + next);
    }
    this.current = next;
    if (from === next) return;
    if (this.verbose) this.say("state " + from + " -> " + next + (why ? " (" + why + ")" : ""));
  }

  /** HELLO answered: the link is up. */
  handshaken(): void {
    this.setHealth("ok");
    this.to("syncing", "HELLO answered");
  }

  /** A step failed: the health the failure means, and where the retry after backoff starts. */
  failed(f: Failure, linkOpen: boolean): void {
    // A store that cannot be read needs no new HELLO; a link in doubt does.
    let resume: SyncState = f.kind === "other" && this.current === "syncing" ? "syncing" : "handshaking";
    if (f.kind === "timeout") this.setHealth("not-responding", f.message);
    else if (f.kind === "version") this.setHealth("error", f.message);
    else if (f.kind === "other" && this.health !== "ok") this.setHealth("error", f.message);
    if (!linkOpen) resume = "disconnected";
    this.resumeAt = resume;
    this.to("backoff", f.kind + ": " + f.message);
  }

  /** The port was lost: back to opening it, once the current step ends or the wait is over. */
  portLost(message: string): void {
    this.setHealth("error", message);
    this.resumeAt = "disconnected";
    if (this.current === "in-sync" || this.current === "held") this.to("disconnected", message);
  }

  /** The MCU restarted (EVENT_HELLO): a new HELLO before anything else. */
  rehandshake(why: string): void {
    if (this.current === "in-sync" || this.current === "held" || this.current === "syncing") {
      this.to("handshaking", why);
    } else if (this.current === "backoff" && this.resumeAt === "syncing") {
      this.resumeAt = "handshaking";
    }
  }

  /** Where a retry starts after backoff. */
  resume(): void {
    const at = this.resumeAt;
    this.resumeAt = "disconnected";
    this.to(at, "retry");
  }

  /** The next state to run when the loop finds the link gone under it. */
  disconnected(): void {
    this.to("disconnected", "no transport");
  }

  private setHealth(state: LinkState, error = ""): void {
    // "not responding" is reported on the transition only (the seq in the message changes per try).
    const changed = state !== this.health || (state === "error" && error !== this.healthError);
    const was = this.health;
    this.health = state;
    this.healthError = error;
    if (!changed) return;
    if (state === "ok" && (was === "not-responding" || was === "error")) this.say("MCU is responding again");
    else if (state === "not-responding") this.say(error + "; will keep trying");
    else if (state === "error") this.say(error);
    this.onHealth(state);
  }

  stop(): void {
    if (this.current !== "stopped") this.to("stopped", "stop()");
    this.onHealth("stopped");
  }
}
