/**
 * WGSL compute kernels, one per Backend primitive, rank-generic: the geometry arrives as
 * uniforms lifted to three spatial axes (ConvGeometry.in3/k3/…, PoolGeometry.in3/w3/…), so one
 * compiled pipeline serves every rank and every layer size. Float32 throughout.
 *
 * Bindings: 0 the uniform parameters, 1 the destination (read_write), 2… the inputs (read).
 * WebGPU forbids binding one buffer as writable and readable in the same dispatch, so where the
 * contract lets an input alias the destination (elementwise ops, channelAffine) the kernel reads
 * that input from the destination binding instead (its `alias*` flag; the input slot then holds
 * a placeholder).
 * Threads: workgroups of 256 on a 2-D grid (x ≤ 65535), flattened to one index `i`.
 */

/** A kernel: its uniform fields (u32, i32 or f32, each 4 bytes) and its WGSL body. */
export interface KernelSource {
  readonly fields: readonly string[];
  /** Read-only storage inputs after the destination, in binding order. */
  readonly inputs: readonly string[];
  /** The body of a one-thread-per-element entry point over index `i`, or a whole module with its own `fn main`. */
  readonly body: string;
}

export const WORKGROUP = 256;

const INDEX = `@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32`;
const FLAT = `let i = (wid.y * nwg.x + wid.x) * ${WORKGROUP}u + lid;`;

/** The full WGSL module of a kernel. */
export function wgsl(k: KernelSource): string {
  const struct = k.fields.map((f) => `  ${f.split(':')[0]}: ${f.split(':')[1]},`).join('\n');
  const inputs = k.inputs.map((name, j) => `@group(0) @binding(${j + 2}) var<storage, read> ${name}: array<f32>;`).join('\n');
  return `struct Params {\n${struct}\n}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${inputs}
${k.body.includes('fn main') ? k.body : `@compute @workgroup_size(${WORKGROUP}) fn main(${INDEX}) {\n${FLAT}\n${k.body}\n}`}`;
}

export const fill: KernelSource = {
  fields: ['n:u32', 'value:f32'],
  inputs: [],
  body: 'if (i < P.n) { out[i] = P.value; }',
};

/** out = alpha·x + beta·out (axpy: beta 1; scale: beta 0); x read from out when aliasX. */
export const linear: KernelSource = {
  fields: ['n:u32', 'alpha:f32', 'beta:f32', 'aliasX:u32'],
  inputs: ['x'],
  body: `if (i >= P.n) { return; }
  var xv = 0.0;
  if (P.aliasX != 0u) { xv = out[i]; } else { xv = x[i]; }
  var o = 0.0;
  if (P.beta != 0.0) { o = P.beta * out[i]; }
  out[i] = P.alpha * xv + o;`,
};

export const mul: KernelSource = {
  fields: ['n:u32', 'aliasA:u32', 'aliasB:u32'],
  inputs: ['a', 'b'],
  body: `if (i >= P.n) { return; }
  var av = 0.0;
  var bv = 0.0;
  if (P.aliasA != 0u) { av = out[i]; } else { av = a[i]; }
  if (P.aliasB != 0u) { bv = out[i]; } else { bv = b[i]; }
  out[i] = av * bv;`,
};

/**
 * f, f' or f'' (order 0..2) of the activation `kind`, its index in ACTIVATIONS: 0 identity,
 * 1 sigmoid, 2 tanh, 3 relu, 4 leaky-relu, 5 gelu-tanh, 6 softplus; the CPU's formulas
 * (cpu/elementwise.ts). tanh from e^{−2|u|} and σ from e^{−|v|}, which cannot overflow;
 * log(1 + e) from its series where 1 + e would round e away. Times `t` when hasTimes.
 */
export const activation: KernelSource = {
  fields: ['n:u32', 'kind:u32', 'order:u32', 'slope:f32', 'threshold:f32', 'aliasX:u32', 'hasTimes:u32', 'aliasT:u32'],
  inputs: ['x', 't'],
  body: `if (i >= P.n) { return; }
  var v = 0.0;
  if (P.aliasX != 0u) { v = out[i]; } else { v = x[i]; }
  var r = 0.0;
  let k = P.kind;
  let ord = P.order;
  if (k == 0u) {
    if (ord == 0u) { r = v; } else if (ord == 1u) { r = 1.0; }
  } else if (k == 1u || k == 6u) {
    let e = exp(-abs(v));
    var s = 1.0 / (1.0 + e);
    if (v < 0.0) { s = e / (1.0 + e); }
    if (k == 1u) {
      if (ord == 0u) { r = s; } else if (ord == 1u) { r = s * (1.0 - s); } else { r = s * (1.0 - s) * (1.0 - 2.0 * s); }
    } else if (v > P.threshold) {
      if (ord == 0u) { r = v; } else if (ord == 1u) { r = 1.0; }
    } else {
      var l = log(1.0 + e);
      if (e < 1e-4) { l = e - 0.5 * e * e; }
      if (ord == 0u) { r = max(v, 0.0) + l; } else if (ord == 1u) { r = s; } else { r = s * (1.0 - s); }
    }
  } else if (k == 2u || k == 5u) {
    var u = v;
    if (k == 5u) { u = 0.7978845608028654 * (v + 0.044715 * v * v * v); }
    let e = exp(-2.0 * abs(u));
    var t = (1.0 - e) / (1.0 + e);
    if (u < 0.0) { t = -t; }
    if (k == 2u) {
      if (ord == 0u) { r = t; } else if (ord == 1u) { r = 1.0 - t * t; } else { r = -2.0 * t * (1.0 - t * t); }
    } else {
      let u1 = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v);
      if (ord == 0u) { r = 0.5 * v * (1.0 + t); }
      else if (ord == 1u) { r = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * u1; }
      else { r = (1.0 - t * t) * (u1 - v * t * u1 * u1 + 3.0 * 0.7978845608028654 * 0.044715 * v * v); }
    }
  } else {
    var a = P.slope;
    if (k == 3u) { a = 0.0; }
    if (v > 0.0) {
      if (ord == 0u) { r = v; } else if (ord == 1u) { r = 1.0; }
    } else {
      if (ord == 0u) { r = a * v; } else if (ord == 1u) { r = a; }
    }
  }
  if (P.hasTimes != 0u) {
    if (P.aliasT != 0u) { r = r * out[i]; } else { r = r * t[i]; }
  }
  out[i] = r;`,
};

/**
 * C[z] = alpha·op(A[z])·op(B[z]) + beta·C[z] for z < batch (strides sA, sB, sC between the
 * batch's matrices; 0 repeats one), leading dimensions ldA, ldB, element offsets oA, oB, oC:
 * 64×64 tiles of C per workgroup of 256 threads, each thread a 4×4 block, A and B staged through
 * workgroup memory 16 deep. Out-of-range loads read 0. The inner index k may run over segments
 * of kSeg (k = seg·kSeg + kk, segment strides segA, segB): convBackFilter sums over the batch
 * and the output positions in one product, Σ_{n,o} dy[n, ·, o]·col[n, ·, o].
 */
const GEMM_FIELDS = ['M:u32', 'N:u32', 'K:u32', 'tA:u32', 'tB:u32', 'alpha:f32', 'beta:f32', 'ldA:u32', 'ldB:u32', 'sA:u32', 'sB:u32', 'sC:u32', 'oA:u32', 'oB:u32', 'oC:u32', 'kSeg:u32', 'segA:u32', 'segB:u32'];

// op(A)[z][r, k] and op(B)[z][k, c], 0 outside the matrices.
const GEMM_LOADS = `fn loadA(z: u32, r: u32, k: u32) -> f32 {
  if (r >= P.M || k >= P.K) { return 0.0; }
  let kk = k % P.kSeg;
  let base = P.oA + z * P.sA + (k / P.kSeg) * P.segA;
  if (P.tA != 0u) { return A[base + kk * P.ldA + r]; }
  return A[base + r * P.ldA + kk];
}

fn loadB(z: u32, k: u32, c: u32) -> f32 {
  if (k >= P.K || c >= P.N) { return 0.0; }
  let kk = k % P.kSeg;
  let base = P.oB + z * P.sB + (k / P.kSeg) * P.segB;
  if (P.tB != 0u) { return B[base + c * P.ldB + kk]; }
  return B[base + kk * P.ldB + c];
}`;

export const gemm: KernelSource = {
  fields: GEMM_FIELDS,
  inputs: ['A', 'B'],
  body: `var<workgroup> As: array<array<f32, 64>, 16>;
var<workgroup> Bs: array<array<f32, 64>, 16>;

${GEMM_LOADS}
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wid.z;
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let tid = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < P.K; k0 = k0 + 16u) {
    // 256 threads stage 16×64 of A (as [k][row]) and of B (as [k][col]), 4 elements each.
    for (var e = 0u; e < 4u; e = e + 1u) {
      let idx = tid + e * 256u;
      let kk = idx / 64u;
      let rc = idx % 64u;
      As[kk][rc] = loadA(z, row0 + rc, k0 + kk);
      Bs[kk][rc] = loadB(z, k0 + kk, col0 + rc);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var r = 0u; r < 4u; r = r + 1u) { a[r] = As[kk][lid.y * 4u + r]; b[r] = Bs[kk][lid.x * 4u + r]; }
      for (var r = 0u; r < 4u; r = r + 1u) {
        for (var c = 0u; c < 4u; c = c + 1u) { acc[r][c] = fma(a[r], b[c], acc[r][c]); }
      }
    }
    workgroupBarrier();
  }
  let cbase = P.oC + z * P.sC;
  for (var r = 0u; r < 4u; r = r + 1u) {
    let row = row0 + lid.y * 4u + r;
    if (row >= P.M) { continue; }
    for (var c = 0u; c < 4u; c = c + 1u) {
      let col = col0 + lid.x * 4u + c;
      if (col >= P.N) { continue; }
      let at = cbase + row * P.N + col;
      var prev = 0.0;
      if (P.beta != 0.0) { prev = P.beta * out[at]; }
      out[at] = P.alpha * acc[r][c] + prev;
    }
  }
}`,
};

/**
 * The same product with one thread per element of C and no workgroup memory: for thin matrices
 * (a few rows or columns, as a layer's bias-sized or batch-sized products), where a 64×64 tile
 * would leave most of its 256 threads idle.
 */
export const gemmThin: KernelSource = {
  fields: [...GEMM_FIELDS, 'total:u32'],
  inputs: ['A', 'B'],
  body: `${GEMM_LOADS}
@compute @workgroup_size(${WORKGROUP}) fn main(${INDEX}) {
  ${FLAT}
  if (i >= P.total) { return; }
  let mn = P.M * P.N;
  let z = i / mn;
  let row = (i % mn) / P.N;
  let col = i % P.N;
  var acc = 0.0;
  for (var k = 0u; k < P.K; k = k + 1u) { acc = fma(loadA(z, row, k), loadB(z, k, col), acc); }
  let at = P.oC + z * P.sC + row * P.N + col;
  var prev = 0.0;
  if (P.beta != 0.0) { prev = P.beta * out[at]; }
  out[at] = P.alpha * acc + prev;
}`,
};

// The lifted conv geometry: input I, kernel K, stride S, padding P, dilation D, output O, per axis z, y, x.
const CONV_FIELDS = ['n:u32', 'cin:u32', 'cout:u32', 'acc:u32', ...['I', 'K', 'S', 'P', 'D', 'O'].flatMap((a) => [0, 1, 2].map((d) => `${a}${d}:i32`))];

/**
 * im2col: col[c·|K| + a, o] = x[n, c, o·s + a·d − p] (0 in the padding) for one sample `n`,
 * so that conv is the GEMM W[cout, cin·|K|] · col and convBackFilter dy[cout, O] · colᵀ.
 * One thread per element of col ([cin·|K|, |O|] per sample, `count` samples from n).
 */
export const im2col: KernelSource = {
  fields: [...CONV_FIELDS, 'total:u32'],
  inputs: ['x'],
  body: `if (i >= P.total) { return; }
  let ov = u32(P.O0 * P.O1 * P.O2);
  let kv = u32(P.K0 * P.K1 * P.K2);
  let o = i % ov;
  var t = i / ov;
  let a = t % kv;
  t = t / kv;
  let c = t % P.cin;
  let n = P.n + t / P.cin;
  let ox = i32(o % u32(P.O2));
  let oy = i32((o / u32(P.O2)) % u32(P.O1));
  let oz = i32(o / u32(P.O2 * P.O1));
  let ax = i32(a % u32(P.K2));
  let ay = i32((a / u32(P.K2)) % u32(P.K1));
  let az = i32(a / u32(P.K2 * P.K1));
  let iz = oz * P.S0 + az * P.D0 - P.P0;
  let iy = oy * P.S1 + ay * P.D1 - P.P1;
  let ix = ox * P.S2 + ax * P.D2 - P.P2;
  var v = 0.0;
  if (iz >= 0 && iz < P.I0 && iy >= 0 && iy < P.I1 && ix >= 0 && ix < P.I2) {
    v = x[(((n * P.cin + c) * u32(P.I0) + u32(iz)) * u32(P.I1) + u32(iy)) * u32(P.I2) + u32(ix)];
  }
  out[i] = v;`,
};

/**
 * dx[n,c,j] (+)= Σ_{o,a} w[o,c,a] · dy[n, o, (j + p − a·d)/s] over the taps where that quotient
 * is a whole in-range output index: conv's adjoint in x gathered per input element (the full
 * correlation with the flipped kernel when s = 1), so no two threads write one element.
 */
export const convBackData: KernelSource = {
  fields: [...CONV_FIELDS, 'total:u32'],
  inputs: ['dy', 'w'],
  body: `if (i >= P.total) { return; }
  let jx = i32(i % u32(P.I2));
  var t = i / u32(P.I2);
  let jy = i32(t % u32(P.I1));
  t = t / u32(P.I1);
  let jz = i32(t % u32(P.I0));
  t = t / u32(P.I0);
  let c = t % P.cin;
  let n = t / P.cin;
  var s = 0.0;
  for (var az = 0; az < P.K0; az = az + 1) {
    let tz = jz + P.P0 - az * P.D0;
    if (tz < 0 || tz % P.S0 != 0 || tz / P.S0 >= P.O0) { continue; }
    for (var ay = 0; ay < P.K1; ay = ay + 1) {
      let ty = jy + P.P1 - ay * P.D1;
      if (ty < 0 || ty % P.S1 != 0 || ty / P.S1 >= P.O1) { continue; }
      for (var ax = 0; ax < P.K2; ax = ax + 1) {
        let tx = jx + P.P2 - ax * P.D2;
        if (tx < 0 || tx % P.S2 != 0 || tx / P.S2 >= P.O2) { continue; }
        let oo = (u32(tz / P.S0) * u32(P.O1) + u32(ty / P.S1)) * u32(P.O2) + u32(tx / P.S2);
        let aa = (u32(az) * u32(P.K1) + u32(ay)) * u32(P.K2) + u32(ax);
        let ov = u32(P.O0 * P.O1 * P.O2);
        let kv = u32(P.K0 * P.K1 * P.K2);
        for (var o = 0u; o < P.cout; o = o + 1u) {
          s = fma(w[(o * P.cin + c) * kv + aa], dy[(n * P.cout + o) * ov + oo], s);
        }
      }
    }
  }
  if (P.acc != 0u) { s = s + out[i]; }
  out[i] = s;`,
};

/** y[n, c, …] += b[c]: the channel of element i is (i / inner) mod C. */
export const biasAdd: KernelSource = {
  fields: ['n:u32', 'inner:u32', 'C:u32'],
  inputs: ['b'],
  body: 'if (i < P.n) { out[i] = out[i] + b[(i / P.inner) % P.C]; }',
};

/** out = a[c]·x + b[c]; x read from out when aliasX. */
export const channelAffine: KernelSource = {
  fields: ['n:u32', 'inner:u32', 'C:u32', 'aliasX:u32'],
  inputs: ['x', 'a', 'b'],
  body: `if (i >= P.n) { return; }
  let c = (i / P.inner) % P.C;
  var xv = 0.0;
  if (P.aliasX != 0u) { xv = out[i]; } else { xv = x[i]; }
  out[i] = a[c] * xv + b[c];`,
};

/**
 * out[r] (+)= Σ_{k} x[...] over row r's elements, one workgroup per row, 256 threads striding
 * and then a tree in workgroup memory. Row r holds `planes` runs of `inner` consecutive
 * elements, `gap` apart, from r·inner: biasGrad's channel c is row c (planes = N, gap = C·inner),
 * dot's partial sums are rows of one run each (planes 1). x·y when hasY (dot), else x.
 */
export const rowSum: KernelSource = {
  fields: ['rows:u32', 'inner:u32', 'planes:u32', 'gap:u32', 'acc:u32', 'hasY:u32', 'len:u32'],
  inputs: ['x', 'y'],
  body: `var<workgroup> part: array<f32, 256>;
@compute @workgroup_size(256) fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  var s = 0.0;
  if (r < P.rows) {
    let count = P.planes * P.inner;
    for (var k = lid; k < count; k = k + 256u) {
      let at = r * P.inner + (k / P.inner) * P.gap + k % P.inner;
      if (at < P.len) {
        if (P.hasY != 0u) { s = fma(x[at], y[at], s); } else { s = s + x[at]; }
      }
    }
  }
  part[lid] = s;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h = h / 2u) {
    if (lid < h) { part[lid] = part[lid] + part[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u && r < P.rows) {
    if (P.acc != 0u) { out[r] = out[r] + part[0]; } else { out[r] = part[0]; }
  }
}`,
};

// Thread i as a pooled output: window (oz, oy, ox) of (n, c) plane `plane`, whose input starts at `base`.
const WINDOW_AT = `let ox = i32(i % u32(P.O2));
  var t = i / u32(P.O2);
  let oy = i32(t % u32(P.O1));
  t = t / u32(P.O1);
  let oz = i32(t % u32(P.O0));
  let plane = t / u32(P.O0);
  let base = plane * u32(P.I0 * P.I1 * P.I2);`;
// Thread i as an input element (jz, jy, jx) of plane `plane`.
const ELEMENT_AT = `let jx = i32(i % u32(P.I2));
  var t = i / u32(P.I2);
  let jy = i32(t % u32(P.I1));
  t = t / u32(P.I1);
  let jz = i32(t % u32(P.I0));
  let plane = t / u32(P.I0);`;

// The lifted pool geometry: input I, window W, stride S, padding P, output O; R = ⌈w/s⌉ per axis.
const POOL_FIELDS = ['total:u32', ...['I', 'W', 'S', 'P', 'O', 'R'].flatMap((a) => [0, 1, 2].map((d) => `${a}${d}:i32`)), 'countPad:u32'];

/**
 * argmax[p, o] = the in-plane offset of window o's largest x (strict '>' keeps the first of
 * equal maxima in row-major order, as the contract says), and y = that value. Padding holds −∞.
 */
export const maxPool: KernelSource = {
  fields: POOL_FIELDS,
  inputs: ['x'],
  body: `if (i >= P.total) { return; }
  ${WINDOW_AT}
  var best = 0.0;
  var at = -1;
  for (var az = 0; az < P.W0; az = az + 1) {
    let iz = oz * P.S0 - P.P0 + az;
    for (var ay = 0; ay < P.W1; ay = ay + 1) {
      let iy = oy * P.S1 - P.P1 + ay;
      for (var ax = 0; ax < P.W2; ax = ax + 1) {
        let ix = ox * P.S2 - P.P2 + ax;
        if (iz < 0 || iz >= P.I0 || iy < 0 || iy >= P.I1 || ix < 0 || ix >= P.I2) { continue; }
        let off = (iz * P.I1 + iy) * P.I2 + ix;
        let v = x[base + u32(off)];
        if (at < 0 || v > best) { best = v; at = off; }
      }
    }
  }
  out[i] = f32(at);`,
};

/** y[p, o] = x[p, argmax[p, o]] (max-pool's values and its R-forward). */
export const gather: KernelSource = {
  fields: ['total:u32', 'inVol:u32', 'outVol:u32'],
  inputs: ['x', 'arg'],
  body: 'if (i < P.total) { out[i] = x[(i / P.outVol) * P.inVol + u32(arg[i])]; }',
};

/**
 * dx[p, j] += Σ dy[p, o] over the windows o that contain j and chose it, gathered per element
 * of dx: along each axis only R = ⌈w/s⌉ windows, o ∈ (⌊(j + p)/s⌋ − R, ⌊(j + p)/s⌋], can hold j.
 */
export const scatterAdd: KernelSource = {
  fields: POOL_FIELDS,
  inputs: ['dy', 'arg'],
  body: `if (i >= P.total) { return; }
  ${ELEMENT_AT}
  let off = f32((jz * P.I1 + jy) * P.I2 + jx);
  var s = out[i];
  for (var rz = 0; rz < P.R0; rz = rz + 1) {
    let oz = (jz + P.P0) / P.S0 - rz;
    if (oz < 0 || oz >= P.O0 || jz + P.P0 >= oz * P.S0 + P.W0) { continue; }
    for (var ry = 0; ry < P.R1; ry = ry + 1) {
      let oy = (jy + P.P1) / P.S1 - ry;
      if (oy < 0 || oy >= P.O1 || jy + P.P1 >= oy * P.S1 + P.W1) { continue; }
      for (var rx = 0; rx < P.R2; rx = rx + 1) {
        let ox = (jx + P.P2) / P.S2 - rx;
        if (ox < 0 || ox >= P.O2 || jx + P.P2 >= ox * P.S2 + P.W2) { continue; }
        let o = ((plane * u32(P.O0) + u32(oz)) * u32(P.O1) + u32(oy)) * u32(P.O2) + u32(ox);
        if (arg[o] == off) { s = s + dy[o]; }
      }
    }
  }
  out[i] = s;`,
};

/**
 * y[p, o] = Σ_{j ∈ W_o} x[p, j] / |W_o|: window o covers o·s − p … o·s − p + w − 1 per axis,
 * clipped to the input; |W_o| is the whole window when countPad (PyTorch's count_include_pad).
 */
export const avgPool: KernelSource = {
  fields: POOL_FIELDS,
  inputs: ['x'],
  body: `if (i >= P.total) { return; }
  ${WINDOW_AT}
  var s = 0.0;
  var count = 0;
  for (var az = 0; az < P.W0; az = az + 1) {
    let iz = oz * P.S0 - P.P0 + az;
    for (var ay = 0; ay < P.W1; ay = ay + 1) {
      let iy = oy * P.S1 - P.P1 + ay;
      for (var ax = 0; ax < P.W2; ax = ax + 1) {
        let ix = ox * P.S2 - P.P2 + ax;
        if (iz >= 0 && iz < P.I0 && iy >= 0 && iy < P.I1 && ix >= 0 && ix < P.I2) {
          s = s + x[base + u32((iz * P.I1 + iy) * P.I2 + ix)];
          count = count + 1;
        }
      }
    }
  }
  if (P.countPad != 0u) { count = P.W0 * P.W1 * P.W2; }
  out[i] = s / f32(count);`,
};

/** dx[p, j] = Σ_{o : j ∈ W_o} dy[p, o] / |W_o|, avgPool's adjoint gathered per element of dx. */
export const avgPoolBack: KernelSource = {
  fields: POOL_FIELDS,
  inputs: ['dy'],
  body: `if (i >= P.total) { return; }
  ${ELEMENT_AT}
  var s = 0.0;
  for (var rz = 0; rz < P.R0; rz = rz + 1) {
    let oz = (jz + P.P0) / P.S0 - rz;
    let z0 = oz * P.S0 - P.P0;
    if (oz < 0 || oz >= P.O0 || jz >= z0 + P.W0) { continue; }
    let nz = min(z0 + P.W0, P.I0) - max(z0, 0);
    for (var ry = 0; ry < P.R1; ry = ry + 1) {
      let oy = (jy + P.P1) / P.S1 - ry;
      let y0 = oy * P.S1 - P.P1;
      if (oy < 0 || oy >= P.O1 || jy >= y0 + P.W1) { continue; }
      let ny = min(y0 + P.W1, P.I1) - max(y0, 0);
      for (var rx = 0; rx < P.R2; rx = rx + 1) {
        let ox = (jx + P.P2) / P.S2 - rx;
        let x0 = ox * P.S2 - P.P2;
        if (ox < 0 || ox >= P.O2 || jx >= x0 + P.W2) { continue; }
        let nx = min(x0 + P.W2, P.I2) - max(x0, 0);
        var count = nz * ny * nx;
        if (P.countPad != 0u) { count = P.W0 * P.W1 * P.W2; }
        s = s + dy[((plane * u32(P.O0) + u32(oz)) * u32(P.O1) + u32(oy)) * u32(P.O2) + u32(ox)] / f32(count);
      }
    }
  }
  out[i] = s;`,
};
