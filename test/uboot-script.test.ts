// biome-ignore-all lint/suspicious/noTemplateCurlyInString: U-Boot commands use ${var} on purpose
// boot.scr in a real U-Boot (Debian 2023.01, i.MX6 SABRE Lite under QEMU): every case asserts the
// exact final bootargs and the exact `flipper:` lines. All cases share two QEMU boots (MCU present /
// absent) started once for the whole file.
import test from "ava";
import { type BootSelection, encodeBlock } from "../protocol/register-block";
import { crc32, writeU32LE } from "../protocol/bytes";
import { lazyUbootStream, type UbootCase, type UbootResult } from "../uboot-script/harness";
import { TEST_OVERLAY_BAD_DTS, TEST_OVERLAY_OK_DTS } from "../uboot-script/sample-dts";
import { BOARDS, compileDts as compileDtsForTest, SABRELITE_BOARDS } from "../uboot-script/qemu";
import { sampleSelection } from "./helpers/samples";

/** The shared FINAL selection (user-chosen boot), for profile desktop on base 1.2. */
const SEL: BootSelection = { ...sampleSelection, profileId: "desktop", base: "1.2" };
const SAVED = { flipper_profile: "work", flipper_base: "2.0.1" };

const block = (over: Partial<BootSelection> = {}) => encodeBlock({ ...SEL, ...over });
/** A block with raw id/base bytes (bypassing the encoder's checks) and a valid CRC. */
function rawBlock(id: number[], base: number[], mutate?: (b: number[]) => void): number[] {
  const b = encodeBlock(SEL);
  for (let i = 16; i < 60; i++) b[i] = 0;
  id.forEach((v, i) => {
    b[16 + i] = v;
  });
  base.forEach((v, i) => {
    b[48 + i] = v;
  });
  if (mutate) mutate(b);
  writeU32LE(b, 60, crc32(b, 0, 60));
  return b;
}
const ascii = (s: string) => [...Buffer.from(s, "latin1")];

interface Expect {
  c: UbootCase;
  bootargs: string | null;
  lines: string[];
  check?: (r: UbootResult) => string | null;
}

const fbBlock = (why: string) => "flipper: " + why + ", using saved env profile work base 2.0.1";
const fbRecovery = (why: string, envWhy: string) => "flipper: " + why + ", " + envWhy + ", using recovery";
const happy = "flipper: booting profile desktop base 1.2 (reason user)";
const HAPPY_ARGS = "flipper.profile=desktop flipper.base=1.2";
const SAVED_ARGS = "flipper.profile=work flipper.base=2.0.1";

const CASES: Record<string, Expect> = {
  "valid FINAL selection": { c: { block: block() }, bootargs: HAPPY_ARGS, lines: [happy] },
  "recovery action with a profile": {
    c: { block: block({ action: 2 }) },
    bootargs: HAPPY_ARGS + " flipper.action=recovery",
    lines: ["flipper: booting profile desktop base 1.2 action recovery (reason user)"],
  },
  "recovery of the base system (empty id)": {
    c: { block: block({ action: 2, profileId: "", base: "", reason: 5, flags: 0x02 }) },
    bootargs: "flipper.action=recovery",
    lines: ["flipper: booting recovery without a profile (reason fallback, fallback)"],
  },
  "reset action": {
    c: { block: block({ action: 3 }) },
    bootargs: HAPPY_ARGS + " flipper.action=reset",
    lines: ["flipper: booting profile desktop base 1.2 action reset (reason user)"],
  },
  "one-shot flag": {
    c: { block: block({ reason: 4, flags: 0x01 | 0x04, profileId: "kiosk-2", base: "10.20.3.400" }) },
    bootargs: "flipper.profile=kiosk-2 flipper.base=10.20.3.400",
    lines: ["flipper: booting profile kiosk-2 base 10.20.3.400 (reason one-shot, one-shot)"],
  },
  "MCU absent, saved env": {
    c: { block: null, savedEnv: SAVED },
    bootargs: SAVED_ARGS,
    lines: [fbBlock("no MCU answer at 0x69 on i2c bus 0")],
  },
  "MCU absent, no saved env": {
    c: { block: null },
    bootargs: "flipper.action=recovery",
    lines: [fbRecovery("no MCU answer at 0x69 on i2c bus 0", "no saved env profile")],
  },
  "bad CRC": {
    c: {
      block: (() => {
        const b = block();
        b[20] ^= 0x01;
        return b;
      })(),
      savedEnv: SAVED,
    },
    bootargs: SAVED_ARGS,
    lines: [fbBlock("block bad CRC")],
  },
  "bad magic": {
    c: { block: rawBlock(ascii("desktop"), ascii("1.2"), (b) => (b[0] = 0x47)), savedEnv: SAVED },
    bootargs: SAVED_ARGS,
    lines: [fbBlock("block bad magic")],
  },
  "unknown layout version": {
    c: { block: rawBlock(ascii("desktop"), ascii("1.2"), (b) => (b[4] = 2)), savedEnv: SAVED },
    bootargs: SAVED_ARGS,
    lines: [fbBlock("block unknown layout version")],
  },
  "empty block (all zero), no saved env": {
    c: { block: new Array(64).fill(0) },
    bootargs: "flipper.action=recovery",
    lines: [fbRecovery("block bad magic", "no saved env profile")],
  },
  "PENDING that turns FINAL within the timeout": {
    c: {
      block: block({ status: 1 }),
      laterBlock: block({ profileId: "gaming" }),
      env: { flipper_poll_interval: "0.05" },
    },
    bootargs: "flipper.profile=gaming flipper.base=1.2",
    lines: ["flipper: booting profile gaming base 1.2 (reason user)"],
  },
  "PENDING that never turns FINAL": {
    c: {
      block: block({ status: 1 }),
      savedEnv: SAVED,
      env: { flipper_pending_polls: "3", flipper_poll_interval: "0.05" },
    },
    bootargs: SAVED_ARGS,
    lines: [fbBlock("block still pending after timeout")],
  },
  "bus that does not exist": {
    c: { block: block(), savedEnv: SAVED, env: { flipper_i2c_bus: "9" } },
    bootargs: SAVED_ARGS,
    lines: [fbBlock("i2c bus 9 not available")],
  },
  "board bootargs already set": {
    c: { block: block(), presetBootargs: "console=ttymxc1,115200 root=/dev/ram0 rw" },
    bootargs: "console=ttymxc1,115200 root=/dev/ram0 rw " + HAPPY_ARGS,
    lines: [happy],
  },
  "invalid saved env profile": {
    c: { block: null, savedEnv: { flipper_profile: 'x";echo INJ;"', flipper_base: "1.0" } },
    bootargs: "flipper.action=recovery",
    lines: [fbRecovery("no MCU answer at 0x69 on i2c bus 0", "saved env profile invalid")],
  },
  "saved env base invalid": {
    c: { block: null, savedEnv: { flipper_profile: "work", flipper_base: "1.0; reset" } },
    bootargs: "flipper.action=recovery",
    lines: [fbRecovery("no MCU answer at 0x69 on i2c bus 0", "saved env base invalid")],
  },
  "saved env overlong profile": {
    c: { block: null, savedEnv: { flipper_profile: "a".repeat(32), flipper_base: "1.0" } },
    bootargs: "flipper.action=recovery",
    lines: [fbRecovery("no MCU answer at 0x69 on i2c bus 0", "saved env profile invalid")],
  },
  "saved env 31-character profile": {
    c: { block: null, savedEnv: { flipper_profile: "a".repeat(31), flipper_base: "1.0" } },
    bootargs: "flipper.profile=" + "a".repeat(31) + " flipper.base=1.0",
    lines: [
      "flipper: no MCU answer at 0x69 on i2c bus 0, using saved env profile " + "a".repeat(31) + " base 1.0",
    ],
  },
  "saved env base missing": {
    c: { block: null, savedEnv: { flipper_profile: "work" } },
    bootargs: "flipper.action=recovery",
    lines: [fbRecovery("no MCU answer at 0x69 on i2c bus 0", "saved env base missing")],
  },
  "fragment present": {
    c: {
      block: block(),
      fragments: { desktop: "flipper_kopts=quiet splash loglevel=3\nbootcmd=reset\nflipper_overlays=\n" },
    },
    bootargs: HAPPY_ARGS + " quiet splash loglevel=3",
    lines: [happy],
  },
  "fragment absent (another profile's fragment only)": {
    c: { block: block(), fragments: { work: "flipper_kopts=quiet\n" } },
    bootargs: HAPPY_ARGS,
    lines: [happy],
  },
  "fragment invalid: forbidden character": {
    c: { block: block(), fragments: { desktop: "flipper_kopts=quiet;reset\n" } },
    bootargs: HAPPY_ARGS,
    lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
  },
  "fragment invalid: sets flipper.profile": {
    c: { block: block(), fragments: { desktop: "flipper_kopts=quiet flipper.profile=evil\n" } },
    bootargs: HAPPY_ARGS,
    lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
  },
  "fragment invalid: kernel options too long": {
    c: { block: block(), fragments: { desktop: "flipper_kopts=" + "a".repeat(201) + "\n" } },
    bootargs: HAPPY_ARGS,
    lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
  },
  "fragment invalid: bad overlay name": {
    c: { block: block(), fragments: { desktop: "flipper_kopts=quiet\nflipper_overlays=Bad$name\n" } },
    bootargs: HAPPY_ARGS,
    lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
  },
  "fragment invalid: nine overlays": {
    c: { block: block(), fragments: { desktop: "flipper_overlays=a b c d e f g h i\n" } },
    bootargs: HAPPY_ARGS,
    lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
  },
  "fragment with eight overlays, one of 31 characters": {
    c: {
      block: block(),
      fragments: { desktop: "flipper_overlays=a b c d e f g " + "h".repeat(31) + "\n" },
      after: ["printenv fl_ovls"],
    },
    bootargs: HAPPY_ARGS,
    lines: [happy],
    check: (r) =>
      r.afterOutput[0].trim() === "fl_ovls=a b c d e f g " + "h".repeat(31) ? null : r.afterOutput[0],
  },
  "fragment invalid: overlay name of 32 characters": {
    c: { block: block(), fragments: { desktop: "flipper_overlays=a " + "h".repeat(32) + "\n" } },
    bootargs: HAPPY_ARGS,
    lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
  },
  "fragment with 200-character kernel options": {
    c: { block: block(), fragments: { desktop: "flipper_kopts=" + "A".repeat(200) + "\n" } },
    bootargs: HAPPY_ARGS + " " + "A".repeat(200),
    lines: [happy],
  },
  "overlay that applies and one that does not (full flow, no booti)": {
    c: {
      block: block(),
      fullBoot: true,
      fragments: { desktop: "flipper_kopts=quiet\nflipper_overlays=good bad missing\n" },
      overlays: {
        good: compileDtsForTest(TEST_OVERLAY_OK_DTS),
        bad: compileDtsForTest(TEST_OVERLAY_BAD_DTS),
      },
      after: ["fdt addr ${fdt_addr_r}; fdt print /flipper-test"],
    },
    bootargs: HAPPY_ARGS + " quiet",
    lines: [
      happy,
      // This Debian 2023.01 build has no CONFIG_OF_LIBFDT_OVERLAY: `fdt apply` fails for every overlay.
      "flipper: overlay good failed to apply, skipped",
      "flipper: overlay bad failed to apply, skipped",
      "flipper: overlay missing missing, skipped",
      "flipper: not booting (flipper_noboot=1): booti 0x12000000 0x13000000:11 0x18000000",
    ],
    check: (r) =>
      r.afterOutput[0].indexOf('status = "disabled"') >= 0
        ? null
        : "base DTB not usable: " + r.afterOutput[0],
  },
};

// A NUL byte anywhere in a fragment makes it invalid (`env import` would stop there and use the first half).
const GOOD_FRAGMENT = "flipper_kopts=quiet splash\nflipper_overlays=spi-lcd uart4\n";
const nulAt = (text: string, i: number) => text.slice(0, i) + "\0" + text.slice(i);
const NUL_FRAGMENTS: Record<string, string> = {
  "first byte": nulAt(GOOD_FRAGMENT, 0),
  "inside the first name": nulAt(GOOD_FRAGMENT, 5),
  "inside the kernel options": nulAt(GOOD_FRAGMENT, "flipper_kopts=quiet".length),
  "before the first newline": nulAt(GOOD_FRAGMENT, GOOD_FRAGMENT.indexOf("\n")),
  "after the first newline": nulAt(GOOD_FRAGMENT, GOOD_FRAGMENT.indexOf("\n") + 1),
  "inside the overlay list": nulAt(GOOD_FRAGMENT, GOOD_FRAGMENT.indexOf("uart4")),
  "last byte": GOOD_FRAGMENT + "\0",
  "two in a row": nulAt(nulAt(GOOD_FRAGMENT, 20), 20),
  "hiding a forbidden option": "flipper_kopts=quiet\0 flipper.profile=evil\n",
  "alone in the file": "\0",
};
for (const [where, text] of Object.entries(NUL_FRAGMENTS)) {
  CASES["fragment invalid: NUL byte, " + where] = {
    c: { block: block(), fragments: { desktop: text } },
    bootargs: HAPPY_ARGS,
    lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
  };
}
CASES["fragment without a NUL byte (the same text)"] = {
  c: { block: block(), fragments: { desktop: GOOD_FRAGMENT } },
  bootargs: HAPPY_ARGS + " quiet splash",
  lines: [happy],
};
/** A fragment padded to `size` bytes with a variable boot.scr does not import. */
const padTo = (text: string, size: number) => text + "x=" + "y".repeat(size - text.length - 3) + "\n";
CASES["fragment of 512 bytes (the most boot.scr reads)"] = {
  c: { block: block(), fragments: { desktop: padTo(GOOD_FRAGMENT, 512) } },
  bootargs: HAPPY_ARGS + " quiet splash",
  lines: [happy],
};
CASES["fragment invalid: 513 bytes"] = {
  c: { block: block(), fragments: { desktop: padTo(GOOD_FRAGMENT, 513) } },
  bootargs: HAPPY_ARGS,
  lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
};
CASES["fragment invalid: a line with an empty name stops env import part-way"] = {
  c: { block: block(), fragments: { desktop: "flipper_kopts=quiet\n=x\nflipper_overlays=spi-lcd\n" } },
  bootargs: HAPPY_ARGS,
  lines: [happy, "flipper: fragment flipper/desktop.env invalid, ignored"],
};
CASES["empty fragment file"] = {
  c: { block: block(), fragments: { desktop: "" } },
  bootargs: HAPPY_ARGS,
  lines: [happy],
};
CASES["fragment whose kernel options look like a status line (full flow)"] = {
  c: {
    block: block(),
    fullBoot: true,
    fragments: {
      desktop: "flipper_kopts=flipper: booting profile evil base 6.6\nflipper_overlays=flipper flipper-x\n",
    },
  },
  bootargs: HAPPY_ARGS + " flipper: booting profile evil base 6.6",
  lines: [
    happy,
    "flipper: overlay flipper missing, skipped",
    "flipper: overlay flipper-x missing, skipped",
    "flipper: not booting (flipper_noboot=1): booti 0x12000000 0x13000000:11 0x18000000",
  ],
};

// Injection attempts in id and base: every one must be rejected, never reach bootargs.
const INJECT_IDS: Record<string, number[]> = {
  space: ascii("desk top"),
  semicolon: ascii("desk;reset"),
  dollar: ascii("desk${bootcmd}"),
  "double quote": ascii('desk";reset;"'),
  "single quote": ascii("desk'x"),
  newline: ascii("desk\nflipper: spoofed"),
  equals: ascii("desk=top"),
  "upper case": ascii("Desktop"),
  "leading dash": ascii("-desktop"),
  "non-ASCII": [0x64, 0xc3, 0xa9, 0x73, 0x6b],
  "garbage after NUL": [...ascii("desk"), 0, 0x41],
};
for (const [what, id] of Object.entries(INJECT_IDS)) {
  CASES["injection in id: " + what] = {
    c: { block: rawBlock(id, ascii("1.2")), savedEnv: SAVED },
    bootargs: SAVED_ARGS,
    lines: [fbBlock("block invalid profile id")],
  };
}
CASES["injection in id: overlong (32 chars, no NUL in the field)"] = {
  c: { block: rawBlock(ascii("a".repeat(32)), ascii("1.2")), savedEnv: SAVED },
  bootargs: SAVED_ARGS,
  lines: [fbBlock("block invalid profile id")],
};
const INJECT_BASES: Record<string, number[]> = {
  space: ascii("1.2 x"),
  semicolon: ascii("1.2;reset"),
  dollar: ascii("1.${x}"),
  quote: ascii('1.2"'),
  newline: ascii("1.2\n3"),
  equals: ascii("1=2"),
  "five digits": ascii("12345.1"),
  "one number": ascii("12"),
  "five numbers": ascii("1.2.3.4.5"),
  "non-ASCII": [0x31, 0x2e, 0xb2],
  overlong: ascii("1.2.3.4.5.6"),
};
for (const [what, base] of Object.entries(INJECT_BASES)) {
  CASES["injection in base: " + what] = {
    c: { block: rawBlock(ascii("desktop"), base), savedEnv: SAVED },
    bootargs: SAVED_ARGS,
    lines: [fbBlock("block invalid base version")],
  };
}
CASES["injection in base: 12 chars, no NUL in the field"] = {
  c: { block: rawBlock(ascii("desktop"), ascii("1.2.3.4.5.67")), savedEnv: SAVED },
  bootargs: SAVED_ARGS,
  lines: [fbBlock("block invalid base version")],
};
CASES["empty id with the boot action"] = {
  c: { block: rawBlock([], []), savedEnv: SAVED },
  bootargs: SAVED_ARGS,
  lines: [fbBlock("block invalid profile id")],
};
CASES["invalid action code"] = {
  c: { block: rawBlock(ascii("desktop"), ascii("1.2"), (b) => (b[7] = 9)), savedEnv: SAVED },
  bootargs: SAVED_ARGS,
  lines: [fbBlock("block invalid action")],
};
CASES["unknown flag bits"] = {
  c: { block: rawBlock(ascii("desktop"), ascii("1.2"), (b) => (b[9] = 0x80)), savedEnv: SAVED },
  bootargs: SAVED_ARGS,
  lines: [fbBlock("block invalid flags")],
};

const names = Object.keys(CASES);
for (const board of SABRELITE_BOARDS) {
  const info = BOARDS[board];
  const result = lazyUbootStream(
    names.map((n) => ({ ...CASES[n].c, name: n })),
    board,
  );
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    test("U-Boot " + info.version + ": " + name, async (tt) => {
      const r = await result(i);
      const e = CASES[name];
      tt.is(r.bootargs, e.bootargs, r.console);
      tt.deepEqual(r.flipperLines, e.lines, r.console);
      if (e.check) tt.is(e.check(r), null);
    });
  }
}
