// Valid protocol values shared by the protocol tests (the doc tables' samples, the fuzz seeds): each
// field set, none at its zero value, so a field left out of an encoder or a table shows.
import type { BootReport, McuState } from "../../protocol/messages";
import { MAX_PROFILES, type ProfileRecord } from "../../protocol/profile";
import {
  BlockAction,
  BlockFlag,
  BlockReason,
  BlockStatus,
  type BootSelection,
} from "../../protocol/register-block";

export const sampleRecord: ProfileRecord = {
  id: "pentest",
  name: "Pentest ✓",
  base: "1.2.3",
  origin: "desktop",
  flags: 1,
  created: 1_700_000_000,
  lastUsed: 1_700_000_500,
};

/** A second record unlike the first in every text field. */
export const sampleRecord2: ProfileRecord = {
  ...sampleRecord,
  id: "router",
  name: "Router",
  base: "2026.1",
  origin: "",
  flags: 0,
};

export const sampleReport: BootReport = {
  sequence: 9,
  action: 1,
  reason: 3,
  flags: 4,
  tryNumber: 1,
  maxTries: 3,
  id: "pentest",
  base: "1.2.3",
  good: 0,
};

export const sampleState: McuState = {
  generation: 2,
  profileCount: 5,
  listCrc: 0x1234abcd,
  maxProfiles: MAX_PROFILES,
  defaultMode: 0,
  defaultId: "desktop",
  nextAction: 1,
  nextId: "pentest",
  options: { timeoutSeconds: 3, showMenu: 0, maxTries: 3 },
  lastGoodId: "desktop",
  lastBoot: sampleReport,
  tries: [
    { id: "pentest", tries: 2, failed: 0 },
    { id: "router", tries: 3, failed: 1 },
  ],
};

/** A FINAL boot selection (each byte of the sequence different, so byte order shows). */
export const sampleSelection: BootSelection = {
  status: BlockStatus.FINAL,
  action: BlockAction.BOOT,
  reason: BlockReason.USER,
  flags: BlockFlag.USER_CHOSEN,
  tryNumber: 1,
  maxTries: 3,
  sequence: 0x01020304,
  profileId: "pentest",
  base: "1.2.3",
};
