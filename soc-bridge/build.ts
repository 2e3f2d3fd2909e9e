// Bundles the CLI into one file, build/flipper-boot.mjs (npm run bridge:build). Everything is inlined
// except @serialport/bindings-cpp (a native addon with prebuilds): install it next to the bundle.
import { chmodSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";

/** Writes the bundle to `outfile` (mode 0755); the metafile lists every input (package.ts credits them). */
export async function bundleCli(outfile: string): Promise<Metafile> {
  const r = await build({
    entryPoints: [fileURLToPath(new URL("./cli.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    external: ["@serialport/bindings-cpp"],
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __flipperCreateRequire } from 'node:module';\nconst require = __flipperCreateRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: "warning",
  });
  chmodSync(outfile, 0o755);
  return r.metafile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outfile = process.argv[2] ?? "build/flipper-boot.mjs";
  await bundleCli(outfile);
  console.log("built " + outfile);
}
