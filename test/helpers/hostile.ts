// The injection corpus: values every validator (protocol/, boot.scr, the initramfs hook) must refuse
// as ids and as bases, for the initramfs validator test.
import { HOSTILE_IDS } from "./arbitraries";

/** The protocol tests' corpus of hostile ids (test/helpers/arbitraries.ts). */
export const HOSTILE_VALUES = HOSTILE_IDS;

/** Malformed base versions (besides HOSTILE_VALUES). */
export const BAD_BASES = [
  "1",
  "1.",
  ".1",
  "1..2",
  "1.2.3.4.5",
  "12345.1",
  "1.2.3-rc1",
  "v1.2",
  "1.2 ",
  "1.2;x",
  "1.2$x",
  "1,2",
  "1.2\n",
  "1.2=3",
  "١.٢", // Arabic-Indic digits
  "2026.11.0.12",
];
