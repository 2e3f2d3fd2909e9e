// One error type for every profile-store lifecycle failure (protocol/STORE.md, "Errors"): a code
// the socket API carries, the exit code the CLI returns, and one line naming the value and the rule.

export const STORE_ERRORS = {
  invalid: 2,
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

export type StoreErrorCode = keyof typeof STORE_ERRORS;

export class StoreError extends Error {
  readonly exit: number;
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "StoreError";
    this.exit = STORE_ERRORS[code];
  }
}

export function isStoreError(e: unknown): e is StoreError {
  return e instanceof StoreError;
}
