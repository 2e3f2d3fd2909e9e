// FlipCTL, the profile manager on Linux: what the page's FlipCTL panel and the scenarios' store
// steps do to the profile store. On btrfs through the real lifecycle commands (soc-bridge/store);
// on the folder store by writing profile.json files (any text: the bridge decides what is valid).
import { existsSync, promises as fsp } from "node:fs";
import { join } from "node:path";
import type { ProfileJson } from "./example";
import { folderStore, type SimStore } from "./store";

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export class FlipCtl {
  /** Where the changes go: the lifecycle commands on btrfs, or profile.json files in folders. */
  store: SimStore = folderStore("not started");

  /** `log` takes FlipCTL's lines for the simulator's log; `changed` runs after every change. */
  constructor(
    readonly storeDir: string,
    private log: (line: string) => void,
    private changed: () => void,
  ) {}

  profileFile(id: string): string {
    return join(this.storeDir, "@profiles", id, "profile.json");
  }

  /** Writes a profile.json (folder = p.id, any text allowed: the bridge decides what is valid). */
  async writeProfile(p: ProfileJson): Promise<void> {
    if (typeof p.id !== "string" || p.id === "" || p.id.indexOf("/") >= 0 || p.id === "." || p.id === "..") {
      throw new Error("profile id " + JSON.stringify(p.id) + " cannot be a folder name");
    }
    await this.writeProfileText(p.id, JSON.stringify(p, null, 2) + "\n");
  }

  async writeProfileText(folder: string, text: string): Promise<void> {
    const dir = join(this.storeDir, "@profiles", folder);
    await fsp.mkdir(dir, { recursive: true });
    const tmp = join(dir, ".profile.json.tmp");
    await fsp.writeFile(tmp, text);
    await fsp.rename(tmp, join(dir, "profile.json"));
    this.log("FlipCTL: wrote @profiles/" + folder + "/profile.json");
    this.changed();
  }

  async readProfile(id: string): Promise<ProfileJson> {
    const text = await fsp.readFile(this.profileFile(id), "utf8").catch(() => {
      throw new Error('no profile "' + id + '" in the store');
    });
    return JSON.parse(text) as ProfileJson;
  }

  async editProfile(id: string, change: Partial<ProfileJson>): Promise<void> {
    const p = await this.readProfile(id);
    await this.writeProfile({ ...p, ...change, id });
  }

  /** A new profile: `profile create` on btrfs (then its other fields), else a profile.json. */
  async createProfile(p: ProfileJson): Promise<void> {
    if (this.store.kind !== "btrfs") return this.writeProfile(p);
    await this.lifecycle("profile-create", { id: p.id, name: p.name, base: p.base });
    const extra = Object.keys(p).filter((k) => !["id", "name", "base", "created"].includes(k));
    if (extra.length) await this.writeProfile({ ...(await this.readProfile(p.id)), ...p });
  }

  /** One lifecycle command on the btrfs store (what `flipper-boot profile ...` runs), logged. */
  async lifecycle(cmd: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = await this.store.run(cmd, args);
    this.log("FlipCTL: " + cmd.replace("-", " ") + " " + JSON.stringify(args) + " done");
    for (const l of (r.cleaned as string[] | undefined) ?? []) this.log("FlipCTL: cleaned up: " + l);
    this.changed();
    return r;
  }

  /** `profile reset`: the profile back to its bare base (btrfs only; a snapshot keeps what it held). */
  async resetProfile(id: string): Promise<void> {
    if (this.store.kind !== "btrfs") {
      throw new Error(
        "reset needs the btrfs store (" + this.store.why + "): a folder profile has no upper to reset",
      );
    }
    await this.lifecycle("profile-reset", { id });
  }

  async deleteProfile(id: string): Promise<void> {
    if (this.store.kind === "btrfs") {
      await this.lifecycle("profile-delete", { id });
      return;
    }
    const dir = join(this.storeDir, "@profiles", id);
    if (!existsSync(dir)) throw new Error('no profile "' + id + '" in the store');
    await fsp.rm(dir, { recursive: true, force: true });
    this.log("FlipCTL: deleted @profiles/" + id);
    this.changed();
  }

  async cloneProfile(from: string, id: string, name?: string): Promise<void> {
    const p = await this.readProfile(from);
    if (this.store.kind === "btrfs") {
      await this.lifecycle("profile-clone", { source: from, id, name: name || p.name + " copy" });
      return;
    }
    if (existsSync(join(this.storeDir, "@profiles", id)))
      throw new Error('profile "' + id + '" already exists');
    await this.writeProfile({
      ...p,
      id,
      name: name ?? p.name + " copy",
      origin: from,
      created: nowSeconds(),
      lastUsed: null,
      protected: false,
      sortKey: typeof p.sortKey === "string" ? p.sortKey + "~" : undefined,
    });
  }

  async renameProfile(id: string, name: string): Promise<void> {
    if (this.store.kind === "btrfs") {
      await this.lifecycle("profile-rename", { id, name });
      return;
    }
    await this.editProfile(id, { name });
  }

  async hideProfile(id: string, hidden = true): Promise<void> {
    await this.editProfile(id, { hidden });
  }
}
