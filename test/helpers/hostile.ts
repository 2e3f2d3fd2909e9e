// biome-ignore-all lint/suspicious/noTemplateCurlyInString: hostile inputs are literal ${...} text
// The injection corpus: values every validator (protocol/, boot.scr, the initramfs hook) must refuse
// as ids and as bases. Shared by the protocol tests and the initramfs validator test.

/** What attackers and typos put in ids and bases; every one must be refused. */
export const HOSTILE_VALUES = [
  "",
  " ",
  "desk top",
  "desktop ",
  "a;reboot",
  "a$(reboot)",
  "$bootcmd",
  "${bootcmd}",
  "a`id`",
  'a"b',
  "a'b",
  "a\nb",
  "a\rb",
  "a\tb",
  "a=b",
  "flipper.profile=x",
  "a\\b",
  "a/b",
  "../etc",
  "a.b",
  "Desktop",
  "-desktop",
  "_desktop",
  "a".repeat(32),
  "dеsktop", // Cyrillic е
  "desktop\u200b", // zero-width space
  "ｄesktop", // full-width d
  "desk\u0000top",
  "naïve",
  "a#b",
  "a&b",
  "a|b",
  "a>b",
];

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
