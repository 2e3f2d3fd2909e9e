// One error type for the whole bridge: a code from the table below, the exit code the CLI returns
// for it, and one line naming the value and the rule. The control socket carries the code
// (`{"ok":false,"error":"...","code":"no-profile"}`), the CLI exits with the code's number; both
// come from this table. Exit codes are documented in README.md, the manual page and
// protocol/STORE.md ("Errors"): they never change meaning.

/** code -> CLI exit code. */
export const ERROR_EXITS = {
  /** The MCU answered a request with a Result other than OK (its reason is in the message). */
  mcu: 1,
  /** A sync failed for another reason, or the control socket could not be used. */
  failed: 1,
  /** Anything not foreseen (a bug or a system failure): the message says what. */
  internal: 1,
  /** Usage: an unknown command or option, an invalid id or value. */
  usage: 2,
  /** A store command's id, name, version, stamp or note breaks its rule. */
  invalid: 2,
  /** No reply after every try: the MCU is not responding (or the line is cut). */
  timeout: 3,
  /** The link was closed while a request waited. */
  closed: 3,
  /** The MCU's serial port cannot be opened. */
  port: 3,
  /** No daemon listens on the control socket (for `watch`, which needs it). */
  "no-daemon": 3,
  /** The control socket refused this user. */
  denied: 4,
  /** More valid profiles on disk than the MCU holds. */
  limit: 5,
  /** The profile store cannot be read (not mounted, unreadable). */
  store: 5,
  /** The MCU speaks no protocol version this bridge knows. */
  version: 6,
  // The profile lifecycle (protocol/STORE.md, "Errors"): one code per cause.
  exists: 7,
  "no-profile": 8,
  "no-base": 9,
  "no-snapshot": 10,
  "no-space": 11,
  "not-btrfs": 12,
  "bad-stream": 13,
  running: 14,
  conflicts: 15,
  busy: 16,
  "in-use": 17,
} as const;

export type ErrorCode = keyof typeof ERROR_EXITS;

export const EXIT_OK = 0;

export class BridgeError extends Error {
  readonly exit: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "BridgeError";
    this.exit = ERROR_EXITS[code];
  }
}

export function isBridgeError(e: unknown): e is BridgeError {
  return e instanceof BridgeError;
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_EXITS, code);
}

/** The code of any thrown value: a BridgeError's own, else `internal`. */
export function errorCode(e: unknown): ErrorCode {
  return e instanceof BridgeError ? e.code : "internal";
}

/** The CLI exit code for an error code (an unknown one, e.g. from a newer daemon, is a failure). */
export function exitFor(code: unknown): number {
  return isErrorCode(code) ? ERROR_EXITS[code] : ERROR_EXITS.failed;
}
