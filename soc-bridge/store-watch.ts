// The store watch: fs.watch (inotify) on the top level, on @profiles and on every profile folder,
// no polling. A rename (atomic writers; new, removed and renamed folders) asks for a store read on
// the next turn; an in-place write once its writes have stopped for `debounceMs` (inotify shows no
// close). A folder replaced under the same path is watched again.
import { type FSWatcher, statSync, watch } from "node:fs";
import path from "node:path";
import { PROFILE_FILE, PROFILES_DIR } from "./profile-store";

/** A watched folder and the inode it watches: a folder replaced under the same path is re-watched. */
interface Watched {
  watcher: FSWatcher;
  dev: number;
  ino: number;
}

type OnEvent = (event: string, name: string | null) => void;

export class StoreWatch {
  private watchers = new Map<string, Watched>();
  /** Quiet window after an in-place write. */
  private debounceTimer: NodeJS.Timeout | null = null;
  /** A rename seen: read the store on the next turn (events of one inotify read coalesce). */
  private renameTick: NodeJS.Immediate | null = null;
  private closed = false;

  constructor(
    private readonly store: string,
    private readonly debounceMs: number,
    /** A store read is due. */
    private readonly onChange: () => void,
  ) {}

  /** True while a store change waits for its read (a rename's next turn, a write's quiet window). */
  busy(): boolean {
    return this.debounceTimer !== null || this.renameTick !== null;
  }

  /**
   * Watches the top level, @profiles and `folders` (profile folders, good, bad or half-written: fixing
   * or finishing one is noticed); stops watching folders no longer named.
   */
  update(folders: Iterable<string>): void {
    const profilesDir = path.join(this.store, PROFILES_DIR);
    const want = new Map<string, OnEvent>();
    const storeName = path.basename(this.store);
    // The top level holds more than @profiles (bases, snapshots, the owner's data): only @profiles counts.
    want.set(this.store, (_event, name) => {
      if (name === null || name === PROFILES_DIR || name === storeName) this.changed(true);
    });
    // Any entry of @profiles appearing, leaving or being renamed.
    want.set(profilesDir, () => this.changed(true));
    for (const d of folders) {
      const folderName = path.basename(d);
      // Only profile.json matters in a profile folder (upper/ and work/ change all the time). A rename
      // onto it (atomic writers), its creation or removal, or the folder's own move is read at once;
      // an in-place write after its writes stop (its close is not visible to fs.watch).
      want.set(d, (event, name) => {
        if (name === PROFILE_FILE) this.changed(event === "rename");
        else if (name === null || name === folderName) this.changed(true);
      });
    }
    let added = false;
    for (const [d, w] of this.watchers) {
      if (!want.has(d)) {
        w.watcher.close();
        this.watchers.delete(d);
      }
    }
    for (const [d, onEvent] of want) added = this.addWatch(d, onEvent) || added;
    // A folder is watched only after the scan that found it: a write in between (a profile renamed
    // right after it was created) raised no event, so look once more now that the watch is in place.
    if (added) this.changed(true);
  }

  /** Watches `dir` (again if the path now names another folder); true when a new watcher was added. */
  private addWatch(dir: string, onEvent: OnEvent): boolean {
    let st: { dev: number; ino: number };
    try {
      st = statSync(dir);
    } catch {
      // The folder does not exist (yet): its parent's watcher reports when it appears.
      this.unwatch(dir);
      return false;
    }
    const old = this.watchers.get(dir);
    // fs.watch follows the inode: a folder moved away (a reset or undo exchanges the profile's
    // subvolume, a store is mounted over the path) keeps reporting the old one. btrfs subvolumes
    // share inode numbers, hence dev too.
    if (old && old.dev === st.dev && old.ino === st.ino) return false;
    this.unwatch(dir);
    try {
      const w = watch(dir, { persistent: false }, (event, name) =>
        onEvent(event, typeof name === "string" ? name : null),
      );
      w.on("error", () => {
        w.close();
        if (this.watchers.get(dir)?.watcher === w) this.watchers.delete(dir);
        this.changed(true);
      });
      this.watchers.set(dir, { watcher: w, dev: st.dev, ino: st.ino });
      return true;
    } catch {
      return false;
    }
  }

  private unwatch(dir: string): void {
    const old = this.watchers.get(dir);
    if (!old) return;
    old.watcher.close();
    this.watchers.delete(dir);
  }

  /** A store change: `now` for renames (read on the next turn), else after the quiet window. */
  private changed(now: boolean): void {
    if (this.closed) return;
    if (now) {
      if (!this.renameTick) {
        this.renameTick = setImmediate(() => {
          this.renameTick = null;
          this.onChange();
        });
      }
      return;
    }
    // An in-place write: wait until its writes stop. A rename read meanwhile does not cancel this:
    // that read may have caught this file half-written.
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      this.onChange();
    }, this.debounceMs);
  }

  close(): void {
    this.closed = true;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    if (this.renameTick) clearImmediate(this.renameTick);
    this.debounceTimer = null;
    this.renameTick = null;
    for (const w of this.watchers.values()) w.watcher.close();
    this.watchers.clear();
  }
}
