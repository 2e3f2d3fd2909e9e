// Bundles the CLI into one file, build/flipper-boot.mjs (npm run bridge:build). Everything is inlined
// except @serialport/bindings-cpp (a native addon with prebuilds): install it next to the bundle.
import { chmodSync } from "node:fs";
import { build } from "esbuild";

const outfile = process.argv[2] ?? "build/flipper-boot.mjs";
await build({
  entryPoints: ["soc-bridge/cli.ts"],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile,
  external: ["@serialport/bindings-cpp"],
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __flipperCreateRequire } from 'node:module';\nconst require = __flipperCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
console.log("built " + outfile);
