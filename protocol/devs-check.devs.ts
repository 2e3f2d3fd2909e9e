// Compiled by `npm run protocol:devs` with the DeviceScript compiler to prove that protocol/
// stays inside the language subset the MCU runs (namespace imports are not supported there).
import { crc32, hex, utf8Decode, utf8Encode } from "./bytes";
import { isValidProfileId, validateProfile } from "./profile";
import { BlockAction, BlockReason, BlockStatus, decodeBlock, encodeBlock } from "./register-block";
import { parseFragment, renderFragment } from "./boot-fragment";

const encoded = encodeBlock({
  status: BlockStatus.FINAL,
  action: BlockAction.BOOT,
  reason: BlockReason.USER,
  flags: 0,
  tryNumber: 1,
  maxTries: 3,
  sequence: 7,
  profileId: "desktop",
  base: "1.2.3",
});
const decoded = decodeBlock(encoded);
console.log(decoded.ok ? "block ok" : "block bad " + decoded.detail);
console.log(hex(crc32(encoded, 0, 60), 8));
console.log(isValidProfileId("desktop") ? "id ok" : "id bad");
const e = validateProfile({ id: "a b", name: "X", base: "1.2", flags: 0, created: 0, lastUsed: 0, origin: "" });
console.log(e ? e.rule : "no error");
const frag = renderFragment({ kernelOptions: "quiet", overlays: ["spi-lcd"] });
console.log(parseFragment(frag).error === null ? "fragment ok" : "fragment bad");
const u = utf8Encode("Pentest ✓");
console.log(utf8Decode(u, 0, u.length));
