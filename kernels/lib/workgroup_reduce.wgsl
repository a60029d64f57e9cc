// Shared by the row kernels of kernels/softmax (prepended to their source by src/ops/softmax.ts):
// a max or sum over the 64 threads of a workgroup, as a tree in workgroup memory. Every thread
// gets the result; the trailing barrier lets the caller reduce again right away.
var<workgroup> red: array<f32, 64>;

fn reduce(v: f32, lid: u32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      if (is_max) {
        red[lid] = max(red[lid], red[lid + s]);
      } else {
        red[lid] = red[lid] + red[lid + s];
      }
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
