// What the daemon last read of the store: the profiles (a file caught mid-write held as it was last
// read whole, and looked at again when it settles), the skipped entries (each logged once), the
// store watch over every folder that matters.
import path from "node:path";
import { BridgeError } from "./errors";
import { PROFILE_FILE, readStore, type StoredProfile } from "./profile-store";
import { StoreWatch } from "./store-watch";
import { folderOf, holdSettling } from "./sync";

export interface StoreViewOptions {
  store: string;
  debounceMs: number;
  settleMs: number;
}

export class StoreView {
  profiles: StoredProfile[] = [];
  skipped: string[] = [];
  /** profile.json files (or new entries) caught mid-write. */
  pending: string[] = [];
  private skippedFiles: string[] = [];
  private loggedSkips = new Set<string>();
  /** When a half-written profile.json is looked at again. */
  private settleTimer: NodeJS.Timeout | null = null;
  private readonly watcher: StoreWatch;
  private closed = false;

  constructor(
    private readonly o: StoreViewOptions,
    private readonly say: (line: string) => void,
    /** A store read is due (a change seen, or a file caught mid-write to look at again). */
    private readonly onChange: () => void,
    /** These profile.json files were found mid-write (held). */
    private readonly onPending: (files: string[]) => void,
  ) {
    this.watcher = new StoreWatch(o.store, o.debounceMs, onChange);
  }

  /** True while a change waits for its read or a half-written file for its second look. */
  busy(): boolean {
    return this.watcher.busy() || this.settleTimer !== null;
  }

  /** Watches the top level, @profiles and every profile folder, good, bad or half-written. */
  watch(): void {
    const folders = new Set<string>();
    for (const p of this.profiles) folders.add(path.dirname(p.file));
    // Bad and half-written profiles are watched too, so fixing or finishing one is noticed.
    for (const f of [...this.skippedFiles, ...this.pending]) {
      if (path.basename(f) === PROFILE_FILE) folders.add(path.dirname(f));
    }
    this.watcher.update(folders);
  }

  /**
   * Reads the store. `firstWaits`: a file is caught mid-write with nothing read whole to hold for it
   * (the first sync waits for it rather than dropping that profile and its fragment). A store that
   * cannot be read is a `store` error: the MCU keeps its list.
   */
  async read(firstSync: boolean): Promise<{ profiles: StoredProfile[]; firstWaits: boolean }> {
    const snap = await readStore(this.o.store, { settleMs: this.o.settleMs });
    if (snap.error) {
      // The store's watchers notice when it appears.
      this.watch();
      throw new BridgeError("store", snap.error + "; the MCU keeps its list");
    }
    // A profile.json caught mid-write is not a bad profile yet: the MCU (and U-Boot) keep the
    // profile as it was last read whole, and the file is looked at again when it changes or settles.
    const heldFolders = new Set(this.profiles.map(folderOf));
    const profiles = holdSettling(snap, this.profiles);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    if (snap.settling.length > 0 && !this.closed) {
      const at = Math.min(...snap.settling.map((s) => s.retryAt));
      this.settleTimer = setTimeout(
        () => {
          this.settleTimer = null;
          this.onChange();
        },
        Math.max(1, at - Date.now() + 1),
      );
      this.onPending(snap.settling.map((s) => s.file));
    }
    this.profiles = profiles;
    this.skipped = snap.skipped.map((s) => s.message);
    this.skippedFiles = snap.skipped.map((s) => s.file);
    this.pending = snap.settling.map((s) => s.file);
    const skipNow = new Set(this.skipped);
    for (const m of skipNow) if (!this.loggedSkips.has(m)) this.say(m);
    this.loggedSkips = skipNow;
    this.watch();
    return { profiles, firstWaits: firstSync && snap.settling.some((s) => !heldFolders.has(s.folder)) };
  }

  close(): void {
    this.closed = true;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    this.watcher.close();
  }
}
