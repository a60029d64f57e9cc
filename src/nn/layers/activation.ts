/** Activation layers: thin modules over the elementwise ops (PReLU owns its slopes). */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";
import {
  clamp,
  gelu,
  hardSigmoid,
  hardSwish,
  leakyRelu,
  mish,
  prelu,
  relu,
  sigmoid,
  silu,
  tanh,
} from "../../ops/index.ts";
import { constantInit } from "../init.ts";
import { positiveInt } from "./util.ts";

/** max(x, 0) */
export class ReLU extends Module {
  /** max(x, 0) elementwise. */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** x for x > 0, else `negativeSlope`·x (default 0.01). */
export class LeakyReLU extends Module {
  /** `negativeSlope`: the slope for x < 0 (default 0.01, as PyTorch). */
  constructor(public negativeSlope = 0.01) {
    super();
  }
  /** x for x >= 0, negativeSlope * x otherwise. */
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
}

/**
 * Leaky ReLU with a learned slope: one shared slope (`numParameters` = 1) or one per channel,
 * each initialised to `init` (0.25), as `nn.PReLU`. The parameter is named `weight`.
 */
export class PReLU extends Module {
  /** Number of slopes (PyTorch's `num_parameters`). */
  numSlopes: number;

  /** `numParameters` slopes (1 shared, or one per channel), each starting at `init`. */
  constructor(numParameters = 1, init = 0.25) {
    super();
    this.numSlopes = positiveInt(numParameters, "numParameters", "PReLU");
    this.param("weight", constantInit([numParameters], init));
  }
  /** The slopes, [numParameters]. */
  get weight(): Tensor {
    return this.getParam("weight")!;
  }
  /** x for x >= 0, the learned slope (of x's channel) times x otherwise. */
  forward(x: Tensor): Tensor {
    return prelu(x, this.weight);
  }
}

/** Exact (erf) GELU, PyTorch's default. */
export class GELU extends Module {
  /** GELU with the exact erf form: x * (1 + erf(x / sqrt 2)) / 2. */
  forward(x: Tensor): Tensor {
    return gelu(x);
  }
}

/** x·sigmoid(x) (a.k.a. swish). */
export class SiLU extends Module {
  /** x * sigmoid(x) elementwise. */
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}

/** 1/(1+e^-x) */
export class Sigmoid extends Module {
  /** The logistic function 1 / (1 + e^-x). */
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** tanh x */
export class Tanh extends Module {
  /** tanh(x) elementwise. */
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** min(max(x, 0), 6), as `nn.ReLU6`. */
export class ReLU6 extends Module {
  /** min(max(x, 0), 6) elementwise. */
  forward(x: Tensor): Tensor {
    return clamp(x, 0, 6);
  }
}

/** Clamp to [minVal, maxVal] (default [-1, 1]), as `nn.Hardtanh`. */
export class Hardtanh extends Module {
  /** Clamp to [minVal, maxVal] (default [-1, 1]). */
  constructor(public minVal = -1, public maxVal = 1) {
    super();
    if (!(minVal <= maxVal)) {
      throw new Error(`Hardtanh: need minVal <= maxVal, got ${minVal}, ${maxVal}`);
    }
  }
  /** min(max(x, minVal), maxVal) elementwise. */
  forward(x: Tensor): Tensor {
    return clamp(x, this.minVal, this.maxVal);
  }
}

/** x·relu6(x + 3)/6, as `nn.Hardswish`. */
export class Hardswish extends Module {
  /** x * relu6(x + 3) / 6 elementwise. */
  forward(x: Tensor): Tensor {
    return hardSwish(x);
  }
}

/** relu6(x + 3)/6, as `nn.Hardsigmoid` (the gate of MobileNetV3's squeeze-excitation). */
export class Hardsigmoid extends Module {
  /** relu6(x + 3) / 6 elementwise. */
  forward(x: Tensor): Tensor {
    return hardSigmoid(x);
  }
}

/** x·tanh(softplus(x)), as `nn.Mish`. */
export class Mish extends Module {
  /** x * tanh(softplus(x)) elementwise. */
  forward(x: Tensor): Tensor {
    return mish(x);
  }
}
