import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic, writeTextAtomic } from "../src/io/atomic.ts";
import {
  checkAgainst,
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  type NamedArray,
  SafetensorsError,
  SafetensorsMismatchError,
  saveSafetensors,
} from "../src/io/safetensors.ts";

const enc = new TextEncoder();

/** Build a raw file from a header string (padded with `pad` spaces) and a data buffer. */
function rawFile(header: string, data: Uint8Array | number[] = [], pad = 0): Uint8Array {
  const h = enc.encode(header + " ".repeat(pad));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Assert `fn` throws a SafetensorsError whose message matches every pattern. */
function assertStErr(fn: () => unknown, ...patterns: (RegExp | string)[]): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SafetensorsError, `expected SafetensorsError, got ${caught}`);
  for (const p of patterns) {
    if (typeof p === "string") assert.ok(caught.message.includes(p), `${caught.message} ~ ${p}`);
    else assert.match(caught.message, p);
  }
  return caught;
}

Deno.test("safetensors: round trip of dtypes and shapes incl. scalar and empty", () => {
  const tensors: Record<string, NamedArray> = {
    "conv1.weight": {
      dtype: "F32",
      shape: [2, 1, 2, 2],
      data: new Float32Array([1.5, -2, 0, -0, NaN, Infinity, -Infinity, 3.4e38]),
    },
    "fc.bias": { dtype: "F32", shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
    "step": { dtype: "I32", shape: [], data: new Int32Array([-42]) },
    "idx": { dtype: "I32", shape: [2, 2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, 7]) },
    "mask": { dtype: "U32", shape: [3, 1], data: new Uint32Array([0, 1, 2 ** 32 - 1]) },
    "empty": { dtype: "F32", shape: [0], data: new Float32Array(0) },
    "empty2d": { dtype: "U32", shape: [2, 0, 3], data: new Uint32Array(0) },
    'ünïcode "name"': { dtype: "F32", shape: [1], data: new Float32Array([9]) },
  };
  const meta = { format: "oto", note: 'ü "quoted"\n' };
  const bytes = encodeSafetensors(tensors, meta);
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0, "header padded to 8 bytes");

  const { tensors: got, metadata } = decodeSafetensors(bytes);
  assert.deepEqual(metadata, meta);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const g = got[name];
    assert.equal(g.dtype, t.dtype, name);
    assert.deepEqual(g.shape, t.shape, name);
    assert.equal(g.data.constructor, t.data.constructor, name);
    assert.deepEqual(bytesOf(g.data), bytesOf(t.data), name); // bit-exact, incl. NaN and -0
    assert.equal(g.storedDtype, undefined);
  }
  // Decoded arrays are copies, not views into the input.
  got["fc.bias"].data[0] = 100;
  assert.deepEqual(decodeSafetensors(bytes).tensors["fc.bias"].data[0], Math.fround(0.1));
});

Deno.test("safetensors: encoding is deterministic and independent of insertion order", () => {
  const a: NamedArray = { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) };
  const b: NamedArray = { dtype: "I32", shape: [1], data: new Int32Array([3]) };
  const x = encodeSafetensors({ a, b }, { k1: "1", k2: "2" });
  const y = encodeSafetensors({ b, a }, { k2: "2", k1: "1" });
  assert.deepEqual(x, y);
  // Integer-like names stay in sorted order too (no JS object key reordering).
  const z = encodeSafetensors({ b: a, 10: a, 2: a });
  assert.match(new TextDecoder().decode(z), /^[^{]*\{"10":.*"2":.*"b":/);
});

Deno.test("safetensors: subarray data views are encoded correctly", () => {
  const backing = new Float32Array([9, 9, 1, 2, 3, 9]);
  const bytes = encodeSafetensors({
    v: { dtype: "F32", shape: [3], data: backing.subarray(2, 5) },
  });
  assert.deepEqual(decodeSafetensors(bytes).tensors.v.data, new Float32Array([1, 2, 3]));
});

Deno.test("safetensors: byte-level layout of a tiny file", () => {
  const bytes = encodeSafetensors({
    a: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
  });
  // Header: 54 bytes of JSON + 2 spaces of padding = 56 = 0x38.
  const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  assert.equal(header.length, 54);
  // deno-fmt-ignore
  const expected = new Uint8Array([
    0x38, 0, 0, 0, 0, 0, 0, 0, // header length 56, little-endian u64
    ...enc.encode(header + "  "),
    0x00, 0x00, 0x80, 0x3f, // 1.0f
    0x00, 0x00, 0x00, 0xc0, // -2.0f
  ]);
  assert.deepEqual(bytes, expected);
});

Deno.test("safetensors: byte-level layout with metadata, scalar and empty tensor", () => {
  const bytes = encodeSafetensors(
    {
      b: { dtype: "I32", shape: [], data: new Int32Array([7]) },
      a: { dtype: "U32", shape: [0], data: new Uint32Array(0) },
    },
    { format: "pt" },
  );
  const header = '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"U32","shape":[0],"data_offsets":[0,0]},' +
    '"b":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}';
  assert.equal(header.length, 137); // padded with 7 spaces to 144 = 0x90
  // deno-fmt-ignore
  const expected = new Uint8Array([
    0x90, 0, 0, 0, 0, 0, 0, 0, // header length 144
    ...enc.encode(header + " ".repeat(7)),
    7, 0, 0, 0, // int32 7
  ]);
  assert.deepEqual(bytes, expected);
});

Deno.test("safetensors: decodes a reference-style file (unpadded header, metadata anywhere)", () => {
  // As written by older versions of the reference library: 60-byte header, no padding.
  const header = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
  const data = bytesOf(new Int32Array([1, 2, 3, 4]));
  const { tensors, metadata } = decodeSafetensors(rawFile(header, data));
  assert.deepEqual(metadata, {});
  assert.deepEqual(tensors.test, {
    dtype: "I32",
    shape: [2, 2],
    data: new Int32Array([1, 2, 3, 4]),
  });

  // Metadata after tensors, trailing whitespace padding, a "__proto__" tensor name.
  const h2 = '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
    '"__metadata__":{"format":"pt"}}';
  const f = decodeSafetensors(rawFile(h2, bytesOf(new Float32Array([5])), 3));
  assert.deepEqual(f.metadata, { format: "pt" });
  assert.ok(Object.hasOwn(f.tensors, "__proto__"));
  assert.deepEqual(Object.getPrototypeOf(f.tensors), Object.prototype);
  assert.deepEqual(f.tensors["__proto__"].data, new Float32Array([5]));
});

Deno.test("safetensors: read-side dtype conversions", () => {
  const entry = (dtype: string, shape: number[], begin: number, end: number) =>
    `"${dtype.toLowerCase()}":{"dtype":"${dtype}","shape":${
      JSON.stringify(shape)
    },"data_offsets":[${begin},${end}]}`;
  const f64 = bytesOf(new Float64Array([0.1, -2.5])); // 16 bytes
  const f16 = bytesOf(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00, 0x8000, 0x7e00])); // 12
  const bf16 = bytesOf(new Uint16Array([0x3f80, 0xc040])); // 4
  const i64 = bytesOf(new BigInt64Array([-5n, 2147483647n])); // 16
  const u64 = bytesOf(new BigUint64Array([4294967295n])); // 8
  const i16 = bytesOf(new Int16Array([-300, 300])); // 4
  const u16 = bytesOf(new Uint16Array([65535])); // 2
  const i8 = new Uint8Array([0xff]); // 1
  const u8 = new Uint8Array([200]); // 1
  const bool = new Uint8Array([1, 0]); // 2
  const parts = [f64, f16, bf16, i64, u64, i16, u16, i8, u8, bool];
  const specs: [string, number[]][] = [
    ["F64", [2]],
    ["F16", [2, 3]],
    ["BF16", [2]],
    ["I64", [2]],
    ["U64", []],
    ["I16", [2]],
    ["U16", [1]],
    ["I8", [1]],
    ["U8", [1]],
    ["BOOL", [2]],
  ];
  let off = 0;
  const headerParts = specs.map(([dt, shape], i) => {
    const s = entry(dt, shape, off, off + parts[i].length);
    off += parts[i].length;
    return s;
  });
  const data = new Uint8Array(off);
  off = 0;
  for (const p of parts) data.set(p, (off += p.length) - p.length);
  const { tensors: t } = decodeSafetensors(rawFile(`{${headerParts.join(",")}}`, data));

  assert.equal(t.f64.dtype, "F32");
  assert.equal(t.f64.storedDtype, "F64");
  assert.deepEqual(t.f64.data, new Float32Array([0.1, -2.5]));
  assert.deepEqual(t.f16.shape, [2, 3]);
  assert.deepEqual(
    Array.from(t.f16.data),
    [1, -2, 2 ** -24, Infinity, -0, NaN],
  );
  assert.ok(Object.is(t.f16.data[4], -0));
  assert.deepEqual(t.bf16.data, new Float32Array([1, -3]));
  assert.equal(t.bf16.storedDtype, "BF16");
  assert.deepEqual(t.i64, {
    dtype: "I32",
    shape: [2],
    data: new Int32Array([-5, 2147483647]),
    storedDtype: "I64",
  });
  assert.deepEqual(t.u64, {
    dtype: "U32",
    shape: [],
    data: new Uint32Array([4294967295]),
    storedDtype: "U64",
  });
  assert.deepEqual(t.i16.data, new Int32Array([-300, 300]));
  assert.deepEqual(t.u16.data, new Int32Array([65535]));
  assert.deepEqual(t.i8.data, new Int32Array([-1]));
  assert.deepEqual(t.u8.data, new Int32Array([200]));
  assert.deepEqual(t.bool, {
    dtype: "I32",
    shape: [2],
    data: new Int32Array([1, 0]),
    storedDtype: "BOOL",
  });
});

Deno.test("safetensors: lossy conversions that overflow are rejected", () => {
  const i64 = rawFile(
    '{"pos":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}',
    bytesOf(new BigInt64Array([1n, 2n ** 40n])),
  );
  assertStErr(
    () => decodeSafetensors(i64, "ids.safetensors"),
    'safetensors ids.safetensors: tensor "pos" (I64 converted to I32): element 1 = 1099511627776 is out of I32 range',
  );
  const f64 = rawFile(
    '{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}',
    bytesOf(new Float64Array([1e300])),
  );
  const err = assertStErr(() => decodeSafetensors(f64, "m.st"), 'tensor "w"', "overflows F32");
  assert.equal(err.tensor, "w");
});

Deno.test("safetensors: unsupported and unknown dtypes name the tensor", () => {
  const f8 = rawFile('{"q":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', [0]);
  assertStErr(
    () => decodeSafetensors(f8, "q.safetensors"),
    /^safetensors q\.safetensors: tensor "q" has unsupported dtype "F8_E4M3" \(readable: F32, /,
  );
  const bad = rawFile('{"q":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}', new Uint8Array(8));
  assertStErr(() => decodeSafetensors(bad), 'tensor "q" has unknown dtype "C64"');
});

Deno.test("safetensors: corrupted inputs give clear errors naming the source", () => {
  const good = encodeSafetensors({
    "layer.w": { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    "layer.b": { dtype: "F32", shape: [2], data: new Float32Array([5, 6]) },
  });
  const src = "model.safetensors";
  const dec = (b: Uint8Array | number[]) => () =>
    decodeSafetensors(b instanceof Uint8Array ? b : new Uint8Array(b), src);

  // Too short for the length prefix.
  assertStErr(dec([]), "safetensors model.safetensors: file is 0 bytes, too short");
  assertStErr(dec([1, 2, 3]), "file is 3 bytes");
  // Truncated inside the header.
  assertStErr(
    dec(good.slice(0, 30)),
    /header length 128 exceeds the 22 bytes after the length prefix/,
  );
  // Truncated inside the data: the last tensor (by offset) runs past the end.
  assertStErr(
    dec(good.slice(0, good.length - 4)),
    'tensor "layer.w" data_offsets [8,24] extend past the end of the 20-byte data buffer',
  );
  // Bad header length: huge (e.g. not a safetensors file at all).
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  assertStErr(dec(huge), "header length 9223372036854775808 exceeds", "not a safetensors file");
  // Bad header length: too small, cutting the JSON.
  const small = good.slice();
  small[0] = 16;
  assertStErr(dec(small), "safetensors model.safetensors: header is not valid JSON");
  // Bad header length: over the 100 MB limit, even if the file were that big.
  const big = new Uint8Array(8 + 100_000_008);
  new DataView(big.buffer).setBigUint64(0, 100_000_001n, true);
  big[8] = 0x7b;
  assertStErr(dec(big), "header length 100000001 exceeds the 100000000-byte limit");
  // Header does not start with '{'.
  assertStErr(dec(rawFile('  {"a":1}')), "header does not start with '{'");
  assertStErr(dec(rawFile("")), "header does not start with '{'");
  // Invalid JSON, non-object JSON, invalid UTF-8.
  assertStErr(dec(rawFile('{"a":{"dtype":"F32",')), "header is not valid JSON");
  assertStErr(dec(rawFile("{}}")), "header is not valid JSON");
  const badUtf8 = rawFile('{"a":1}');
  badUtf8[10] = 0xff;
  assertStErr(dec(badUtf8), "header is not valid UTF-8");
  // Entry / metadata shape errors.
  assertStErr(dec(rawFile('{"x":[1,2]}')), 'tensor "x": header entry is not an object');
  assertStErr(
    dec(rawFile('{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}')),
    'tensor "x": "shape" [-1] is not an array of non-negative integers',
  );
  assertStErr(
    dec(rawFile('{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}}')),
    '"shape" [1.5]',
  );
  assertStErr(
    dec(rawFile('{"x":{"shape":[1],"data_offsets":[0,4]}}')),
    'missing or non-string "dtype"',
  );
  assertStErr(
    dec(rawFile('{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}')),
    'tensor "x": "data_offsets" [4,0] is not [begin, end] with begin <= end',
  );
  assertStErr(
    dec(rawFile('{"x":{"dtype":"F32","shape":[1]}}')),
    'tensor "x": "data_offsets" undefined',
  );
  assertStErr(
    dec(rawFile('{"__metadata__":{"a":1}}')),
    '"__metadata__" value for "a" is not a string',
  );
  assertStErr(dec(rawFile('{"__metadata__":[]}')), '"__metadata__" is not an object of strings');
});

Deno.test("safetensors: bad offsets (range, size, overlap, holes, trailing bytes)", () => {
  const src = "ckpt/model.safetensors";
  const dec = (header: string, dataLen: number) => () =>
    decodeSafetensors(rawFile(header, new Uint8Array(dataLen)), src);
  const e = (name: string, shape: number[], b: number, end: number) =>
    `"${name}":{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[${b},${end}]}`;

  const err = assertStErr(
    dec(`{${e("w", [2], 0, 12)}}`, 8),
    'safetensors ckpt/model.safetensors: tensor "w" data_offsets [0,12] extend past the end of the 8-byte data buffer',
  );
  assert.equal(err.tensor, "w");
  assert.equal(err.source, src);
  assertStErr(
    dec(`{${e("w", [3, 2], 0, 16)}}`, 16),
    'tensor "w" has shape [3,2] and dtype F32 (24 bytes) but data_offsets [0,16] span 16 bytes',
  );
  assertStErr(
    dec(`{${e("a", [2], 0, 8)},${e("b", [2], 4, 12)}}`, 12),
    'tensors "a" [0,8] and "b" [4,12] have overlapping data_offsets',
  );
  assertStErr(
    dec(`{${e("a", [1], 0, 4)},${e("b", [1], 8, 12)}}`, 12),
    'data bytes [4,8) before tensor "b" are not covered by any tensor',
  );
  assertStErr(dec(`{${e("a", [1], 0, 4)}}`, 6), "2 trailing bytes after the last tensor's data");
  // Empty tensors may sit anywhere on a boundary, including at the end.
  const ok = decodeSafetensors(
    rawFile(
      `{${e("z", [0], 4, 4)},${e("a", [1], 0, 4)},${e("y", [0, 3], 0, 0)}}`,
      new Uint8Array(4),
    ),
    src,
  );
  assert.deepEqual(Object.keys(ok.tensors), ["z", "a", "y"]);
});

Deno.test("safetensors: encoder validates its input", () => {
  assertStErr(
    () => encodeSafetensors({ w: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } }),
    'safetensors <encode>: tensor "w" has shape [2,3] (6 elements) but its data has 5 elements',
  );
  assertStErr(
    () =>
      encodeSafetensors({
        w: { dtype: "F32", shape: [2], data: new Int32Array(2) as unknown as Float32Array },
      }),
    'tensor "w" has dtype F32 but its data is a Int32Array, expected Float32Array',
  );
  assertStErr(
    () =>
      encodeSafetensors({
        w: { dtype: "F16" as "F32", shape: [1], data: new Float32Array(1) },
      }),
    'tensor "w" has dtype F16; can only write F32, I32, U32',
  );
  assertStErr(
    () => encodeSafetensors({ w: { dtype: "I32", shape: [-1], data: new Int32Array(0) } }),
    'tensor "w" has invalid shape [-1]',
  );
  assertStErr(
    () => encodeSafetensors({ __metadata__: { dtype: "I32", shape: [], data: new Int32Array(1) } }),
    'tensor name "__metadata__" is reserved',
  );
  assertStErr(
    () => encodeSafetensors({}, { n: 1 as unknown as string }),
    'metadata value for "n" must be a string, got number',
  );
  // No tensors and no metadata is still a valid file.
  assert.deepEqual(decodeSafetensors(encodeSafetensors({})), { tensors: {}, metadata: {} });
});

Deno.test("safetensors: checkAgainst lists missing, unexpected and mis-shaped tensors", () => {
  const loaded = {
    "conv1.weight": { shape: [8, 3, 3, 3] },
    "conv1.bias": { shape: [16] },
    "extra": { shape: [1] },
  };
  checkAgainst({ "conv1.weight": [8, 3, 3, 3], "conv1.bias": [16], "extra": [1] }, loaded, "x");

  assert.throws(
    () =>
      checkAgainst(
        { "conv1.weight": [16, 3, 3, 3], "conv1.bias": [16], "extra": [1] },
        loaded,
        "model.safetensors",
      ),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsMismatchError);
      assert.equal(
        e.message,
        'safetensors model.safetensors: tensor "conv1.weight" has shape [8,3,3,3], model expects [16,3,3,3]',
      );
      return true;
    },
  );

  assert.throws(
    () =>
      checkAgainst(
        { "conv1.weight": [16, 3, 3, 3], "conv1.bias": [16], "fc.weight": [10, 16] },
        loaded,
        "model.safetensors",
      ),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsMismatchError);
      assert.equal(
        e.message,
        "safetensors model.safetensors: 3 problems matching the model " +
          "(1 missing, 1 unexpected, 1 mis-shaped):\n" +
          '  missing tensor "fc.weight" (model expects [10,16])\n' +
          '  unexpected tensor "extra" [1] not in the model\n' +
          '  tensor "conv1.weight" has shape [8,3,3,3], model expects [16,3,3,3]',
      );
      assert.deepEqual(e.missing, ["fc.weight"]);
      assert.deepEqual(e.unexpected, ["extra"]);
      assert.deepEqual(e.mismatched, [
        { name: "conv1.weight", shape: [8, 3, 3, 3], expected: [16, 3, 3, 3] },
      ]);
      return true;
    },
  );

  // Rank differences count as mismatches; long lists are capped in the message only.
  const many: Record<string, number[]> = { s: [] };
  for (let i = 0; i < 25; i++) many[`m${i}`] = [1];
  assert.throws(
    () => checkAgainst(many, { s: { shape: [1] } }),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsMismatchError);
      assert.match(e.message, /^safetensors <bytes>: 26 problems/);
      assert.match(e.message, /\.\.\. and 5 more/);
      assert.match(e.message, /tensor "s" has shape \[1\], model expects \[\]/);
      assert.equal(e.missing.length, 25);
      return true;
    },
  );
});

Deno.test("safetensors: save/load round trip through a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "model.safetensors");
    const tensors: Record<string, NamedArray> = {
      w: { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
      n: { dtype: "I32", shape: [], data: new Int32Array([3]) },
    };
    await saveSafetensors(path, tensors, { epoch: "3" });
    const loaded = await loadSafetensors(path);
    assert.deepEqual(loaded, { tensors, metadata: { epoch: "3" } });
    assert.deepEqual(await Deno.readFile(path), encodeSafetensors(tensors, { epoch: "3" }));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);

    // Errors from the file name the path.
    await Deno.writeFile(path, new Uint8Array([1, 0, 0]));
    await assert.rejects(() => loadSafetensors(path), (e: unknown) => {
      assert.ok(e instanceof SafetensorsError);
      assert.ok(e.message.startsWith(`safetensors ${path}: file is 3 bytes`), e.message);
      return true;
    });
    // An invalid tensor aborts the save before anything is written.
    await assert.rejects(
      () => saveSafetensors(path, { w: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
      (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`safetensors ${path}:`),
    );
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 0, 0]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomic: writes, replaces, streams chunks and writes text", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "out.bin");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, [new Uint8Array([4]), new Uint8Array(0), new Uint8Array([5, 6])]);
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([4, 5, 6]));
    const gen = async function* () {
      yield new Uint8Array([7]);
      yield new Uint8Array([8]);
    };
    await writeFileAtomic(new URL(`file://${path}`), gen());
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([7, 8]));
    await writeTextAtomic(join(dir, "t.json"), '{"ü":1}\n');
    assert.equal(await Deno.readTextFile(join(dir, "t.json")), '{"ü":1}\n');
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["out.bin", "t.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomic: a failure mid-write keeps the old file and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "model.safetensors");
    const old = encodeSafetensors({ w: { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
    await writeFileAtomic(path, old);

    let chunksWritten = 0;
    const failing = async function* () {
      yield new Uint8Array(4096).fill(0xaa);
      chunksWritten++;
      yield new Uint8Array(4096).fill(0xbb);
      chunksWritten++;
      throw new Error("disk on fire");
    };
    await assert.rejects(() => writeFileAtomic(path, failing()), /disk on fire/);
    assert.equal(chunksWritten, 2, "failure happened after data reached the temp file");
    assert.deepEqual(await Deno.readFile(path), old);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);
    assert.deepEqual((await loadSafetensors(path)).tensors.w.data, new Float32Array([1]));

    // Same with a synchronous iterable, and when no target existed before.
    const fresh = join(dir, "fresh.bin");
    const syncFailing = {
      *[Symbol.iterator]() {
        yield new Uint8Array([1, 2]);
        throw new Error("source broke");
      },
    };
    await assert.rejects(() => writeFileAtomic(fresh, syncFailing), /source broke/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);

    // Missing directory: the error surfaces and nothing is created.
    await assert.rejects(
      () => writeFileAtomic(join(dir, "nope", "x.bin"), new Uint8Array(1)),
      Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "atomic: keeps the replaced file's permission bits; explicit mode wins",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "f");
      await Deno.writeFile(path, new Uint8Array([1]));
      await Deno.chmod(path, 0o600);
      await writeFileAtomic(path, new Uint8Array([2]));
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      await writeFileAtomic(path, new Uint8Array([3]), { mode: 0o640 });
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
      assert.deepEqual(await Deno.readFile(path), new Uint8Array([3]));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
