/**
 * Decode throughput of the npm PNG and JPEG decoders oto could use, on real photographs: what
 * chose `pngjs` and `jpeg-js` for src/data/image.ts. CPU time per megapixel (process CPU
 * seconds, so other processes on a shared machine count less than in wall time).
 *
 * Usage: `deno run -A bench/image_decode.ts [FILE.png|FILE.jpg ...]`
 * (default: the photographs of Debian's python3-skimage, /usr/lib/python3/dist-packages/skimage/data).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
// deno-lint-ignore no-import-prefix
import { PNG } from "npm:pngjs@7.0.0";
// deno-lint-ignore no-import-prefix
import * as fastPng from "npm:fast-png@8.0.0";
// deno-lint-ignore no-import-prefix
import jpegjs from "npm:jpeg-js@0.4.4";
// deno-lint-ignore no-import-prefix
import * as lodepng from "npm:@cwasm/lodepng@0.1.9";
// deno-lint-ignore no-import-prefix
import * as jpegTurbo from "npm:@cwasm/jpeg-turbo@0.1.3";
// deno-lint-ignore no-import-prefix
import { decode as mozjpeg } from "npm:@jsquash/jpeg@1.6.0";

const SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data";
const files = Deno.args.length ? Deno.args : [
  "astronaut.png",
  "coffee.png",
  "chelsea.png",
  "rocket.jpg",
  "hubble_deep_field.jpg",
  "retina.jpg",
].map((f) => `${SKIMAGE}/${f}`);

type Decoded = { width: number; height: number };
const decoders: Record<string, [".png" | ".jpg", (b: Uint8Array) => Decoded | Promise<Decoded>]> = {
  "pngjs 7.0.0": [".png", (b) => PNG.sync.read(Buffer.from(b.buffer, b.byteOffset, b.length))],
  "fast-png 8.0.0": [".png", (b) => fastPng.decode(b)],
  "@cwasm/lodepng 0.1.9 (WASM)": [".png", (b) => lodepng.decode(b)],
  "jpeg-js 0.4.4": [".jpg", (b) => jpegjs.decode(b, { useTArray: true, formatAsRGBA: false })],
  "@cwasm/jpeg-turbo 0.1.3 (WASM)": [".jpg", (b) => jpegTurbo.decode(b)],
  "@jsquash/jpeg 1.6.0 (WASM mozjpeg)": [
    ".jpg",
    (b) => mozjpeg(b.slice().buffer as ArrayBuffer) as Promise<Decoded>,
  ],
};

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
console.log(`load: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
for (const [name, [ext, decode]] of Object.entries(decoders)) {
  let mpix = 0, cpu = 0, wall = 0;
  for (
    const f of files.filter((f) =>
      f.toLowerCase().endsWith(ext) || ext === ".jpg" && /\.jpeg$/i.test(f)
    )
  ) {
    const bytes = await Deno.readFile(f);
    await decode(bytes); // warm up
    const reps = 5, c0 = cpuMs(), t0 = performance.now();
    let img: Decoded = { width: 0, height: 0 };
    for (let i = 0; i < reps; i++) img = await decode(bytes);
    cpu += (cpuMs() - c0) / reps;
    wall += (performance.now() - t0) / reps;
    mpix += (img.width * img.height) / 1e6;
  }
  console.log(
    `${name.padEnd(36)} ${mpix.toFixed(2)} MPix: ${
      (mpix / cpu * 1000).toFixed(1)
    } MPix per CPU-s, ` +
      `${(mpix / wall * 1000).toFixed(1)} MPix/s wall`,
  );
}
