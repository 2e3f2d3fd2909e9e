// The profile-store lifecycle errors (protocol/STORE.md, "Errors"): the bridge's one error type
// (../errors.ts) under the store's name, and the store's part of its code table.
import { BridgeError, ERROR_EXITS, isBridgeError } from "../errors";

export const STORE_ERRORS = {
  invalid: ERROR_EXITS.invalid,
  exists: ERROR_EXITS.exists,
  "no-profile": ERROR_EXITS["no-profile"],
  "no-base": ERROR_EXITS["no-base"],
  "no-snapshot": ERROR_EXITS["no-snapshot"],
  "no-space": ERROR_EXITS["no-space"],
  "not-btrfs": ERROR_EXITS["not-btrfs"],
  "bad-stream": ERROR_EXITS["bad-stream"],
  running: ERROR_EXITS.running,
  conflicts: ERROR_EXITS.conflicts,
  busy: ERROR_EXITS.busy,
  "in-use": ERROR_EXITS["in-use"],
} as const;

export type StoreErrorCode = keyof typeof STORE_ERRORS;

export { BridgeError as StoreError, isBridgeError as isStoreError };
