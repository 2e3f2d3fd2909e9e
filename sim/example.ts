// The example store a fresh simulation starts with, and the boot partition's static files.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TEST_BASE_DTS, TEST_FDTFILE, TEST_OVERLAY_OK_DTS } from "../uboot-script/sample-dts";
import { compileDts } from "../uboot-script/qemu";

/** A profile as FlipCTL writes it into <store>/@profiles/<id>/profile.json (schema: protocol/PROTOCOL.md). */
export interface ProfileJson {
  id: string;
  name: string;
  base: string;
  origin?: string | null;
  hidden?: boolean;
  protected?: boolean;
  created?: string | number | null;
  lastUsed?: string | number | null;
  kernelOptions?: string;
  overlays?: string[];
  sortKey?: string;
  [k: string]: unknown;
}

export const EXAMPLE_PROFILES: ProfileJson[] = [
  {
    id: "desktop",
    name: "Desktop",
    base: "1.2",
    created: "2026-09-01T10:00:00Z",
    lastUsed: "2026-11-20T18:30:00Z",
    kernelOptions: "quiet splash",
    sortKey: "1",
  },
  {
    id: "pentest",
    name: "Pentest",
    base: "1.2",
    origin: "desktop",
    created: "2026-10-02T09:00:00Z",
    lastUsed: "2026-11-18T21:05:00Z",
    kernelOptions: "loglevel=4 usbcore.autosuspend=-1",
    overlays: ["wifi-monitor"],
    sortKey: "2",
  },
  {
    id: "router",
    name: "Router",
    base: "1.1",
    created: "2026-08-15T12:00:00Z",
    lastUsed: "2026-11-02T07:45:00Z",
    kernelOptions: "quiet net.ifnames=0",
    overlays: ["uart4-pins"],
    sortKey: "3",
    protected: true,
  },
  {
    id: "kiosk",
    name: "Kiosk",
    base: "1.2",
    origin: "desktop",
    created: "2026-11-01T08:00:00Z",
    lastUsed: null,
    kernelOptions: "quiet consoleblank=0",
    sortKey: "4",
  },
];

/** Overlays the example boot partition carries (compiled from the harness's test overlay). */
export const EXAMPLE_OVERLAYS = ["wifi-monitor", "uart4-pins"];

/** The FAT boot partition's static files: a DTB with symbols, a kernel and initramfs stand-in, overlays. */
export function prepareBootPartition(bootDir: string): void {
  const dtb = join(bootDir, TEST_FDTFILE);
  if (!existsSync(dtb)) writeFileSync(dtb, compileDts(TEST_BASE_DTS));
  const img = join(bootDir, "Image");
  if (!existsSync(img)) writeFileSync(img, "flipper-sim: a stand-in kernel (U-Boot stops before booti)\n");
  const rd = join(bootDir, "initrd.img");
  if (!existsSync(rd)) writeFileSync(rd, "flipper-sim: a stand-in initramfs\n");
  let ovl: Buffer | null = null;
  for (const name of EXAMPLE_OVERLAYS) {
    const f = join(bootDir, "flipper", "overlays", name + ".dtbo");
    if (existsSync(f)) continue;
    ovl = ovl ?? compileDts(TEST_OVERLAY_OK_DTS);
    writeFileSync(f, ovl);
  }
}
