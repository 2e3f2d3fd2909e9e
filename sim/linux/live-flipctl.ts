// FlipCTL on the real Linux: the panel's store actions, default, next and menu options as the real
// `flipper-boot` commands in the running guest (sim/linux/live.ts), on the guest's own btrfs store.
// Before the first boot the host's folder holds the test image's profiles; after it, FlipCTL reads
// the guest's store as RealLinux last read it (guest-store.ts).
import { join } from "node:path";
import type { ProfileJson } from "../example";
import { FlipCtl } from "../flipctl";
import type { RealLinux } from "./live";

/** Why "fail the next boot" has no real counterpart. */
export const REAL_NO_FAIL =
  "the real Linux fails only by itself: boot a profile whose health check fails (the test image's Broken)";

/** A FlipCTL action -> the `flipper-boot` command line that does it on Linux. */
export function flipctlArgs(what: string, a: Record<string, unknown>): string[] {
  const s = (k: string) => String(a[k] ?? "");
  switch (what) {
    case "create":
      return ["profile", "create", s("id"), "--name", s("name") || s("id"), "--base", s("base")];
    case "clone":
      return ["profile", "clone", s("from"), s("id"), ...(a.name ? ["--name", s("name")] : [])];
    case "rename":
      return ["profile", "rename", s("id"), "--name", s("name")];
    case "delete":
      return ["profile", "delete", s("id")];
    case "reset":
      return ["profile", "reset", s("id")];
    case "setDefault":
      return ["set-default", s("target")];
    case "setNext":
      return s("id") === "" ? ["clear-next"] : ["next", s("id"), "--action", s("action") || "boot"];
    case "setOptions": {
      const out = ["options"];
      if (a.timeoutSeconds !== undefined) out.push("--timeout", s("timeoutSeconds"));
      if (a.showMenu !== undefined) out.push("--show", Number(a.showMenu) === 1 ? "always" : "on-key");
      if (a.maxTries !== undefined) out.push("--max-tries", s("maxTries"));
      return out;
    }
  }
  throw new Error(what + " has no flipper-boot command on the real Linux");
}

export class GuestFlipCtl extends FlipCtl {
  constructor(
    storeDir: string,
    log: (line: string) => void,
    changed: () => void,
    private real: RealLinux,
  ) {
    super(storeDir, log, changed);
  }

  /** A profile's profile.json: in the guest's store once it was read, else in the host's folder. */
  override profileFile(id: string): string {
    const mirror = this.real.storeMirror;
    return mirror ? join(mirror, "@profiles", id, "profile.json") : super.profileFile(id);
  }

  /** One FlipCTL action in the guest (its output goes to the log); a non-zero exit is an error. */
  async command(what: string, a: Record<string, unknown>): Promise<void> {
    await this.real.runOk(flipctlArgs(what, a));
  }

  override async createProfile(p: ProfileJson): Promise<void> {
    await this.command("create", p as unknown as Record<string, unknown>);
  }

  override async resetProfile(id: string): Promise<void> {
    await this.command("reset", { id });
  }

  override async deleteProfile(id: string): Promise<void> {
    await this.command("delete", { id });
  }

  override async cloneProfile(from: string, id: string, name?: string): Promise<void> {
    await this.command("clone", { from, id, name });
  }

  override async renameProfile(id: string, name: string): Promise<void> {
    await this.command("rename", { id, name });
  }

  override async hideProfile(id: string, hidden = true): Promise<void> {
    await this.command("hide", { id, hidden });
  }
}
