// SPDX-License-Identifier: MIT
// Printing: toString / console.log / print() against strings produced by PyTorch's own printing
// (fixtures/print.json, written by scripts/fixtures/gen_print_fixtures.py with torch 1.13), the
// exact rounding helpers against Python's format(), and the unreadable/disposed cases.
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import './setup.js';
import {
  HeedError, registerBackend, setPrintOptions, tensor, type Backend, type BackendFactory, type DType, type Shape,
} from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { formatFixed, formatScientific } from '../src/format.js';

interface PrintCase {
  name: string;
  shape: number[];
  dtype: DType;
  requiresGrad: boolean;
  f32?: string;
  values?: number[];
  expected: string;
}

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/print.json', import.meta.url), 'utf8')) as { cases: PrintCase[] };

/** PyTorch's spelling -> Heed's: torch.int64 plays int32 (see the generator), shapes as arrays. */
function heedSpelling(s: string): string {
  return s.replace(/dtype=torch\.int64/g, 'dtype=int32').replace(/dtype=torch\.bool/g, 'dtype=bool')
    .replace(/size=\(([^)]*)\)/g, (_, dims: string) => `size=[${dims.replace(/,$/, '')}]`);
}

function values(c: PrintCase): number[] {
  if (c.f32 !== undefined) return Array.from(new Float32Array(new Uint8Array(Buffer.from(c.f32, 'base64')).buffer));
  return c.values!;
}

function build(c: PrintCase) {
  return tensor(values(c), { shape: c.shape as Shape, dtype: c.dtype, requiresGrad: c.requiresGrad });
}

describe('tensor printing matches PyTorch', () => {
  for (const c of fixtures.cases) {
    it(c.name, () => {
      const t = build(c);
      expect(String(t)).toBe(heedSpelling(c.expected));
      t.dispose();
    });
  }

  it('console.log / util.inspect print the values (Node)', () => {
    const t = tensor([[1, 2], [3, 4]]);
    expect(inspect(t)).toBe('tensor([[1., 2.],\n        [3., 4.]])');
    expect(inspect({ weight: t })).toContain('tensor([[1., 2.],');
    t.dispose();
  });

  it('non-leaf tensors show their grad_fn, like PyTorch', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    const y = w.mul(3);
    expect(String(y)).toBe('tensor([3., 6.], grad_fn=<MulBackward>)');
    w.dispose();
    y.dispose();
  });

  it('views print their own elements (strided, non-contiguous)', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    const v = t.transpose();
    expect(String(v)).toBe('tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]])');
    t.dispose();
    v.dispose();
  });

  it('a disposed tensor prints its shape and dtype, not an error', () => {
    const t = tensor([1, 2, 3]);
    t.dispose();
    expect(String(t)).toBe('tensor(<disposed>, size=[3], dtype=float32)');
  });
});

describe('print options', () => {
  afterEach(() => setPrintOptions('default'));

  it('precision, threshold, edge items and sciMode work as torch.set_printoptions', () => {
    const t = tensor([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3]);
    setPrintOptions({ precision: 2 });
    expect(String(t)).toBe('tensor([0.33, 0.67, 1.00, 1.33, 1.67])');
    setPrintOptions({ threshold: 4, edgeItems: 1 });
    expect(String(t)).toBe('tensor([0.33,  ..., 1.67])');
    setPrintOptions('default');
    setPrintOptions({ sciMode: true });
    expect(String(t)).toBe('tensor([3.3333e-01, 6.6667e-01, 1.0000e+00, 1.3333e+00, 1.6667e+00])');
    t.dispose();
  });

  it('bad options are a HeedError and change nothing', () => {
    expect(() => setPrintOptions({ precision: -1 })).toThrow(HeedError);
    expect(() => setPrintOptions({ precision: 1.5 })).toThrow(/precision must be an integer/);
    const t = tensor([0.5]);
    expect(String(t)).toBe('tensor([0.5000])');
    t.dispose();
  });
});

describe('exact rounding (Python format semantics)', () => {
  // Expected strings printed by /usr/bin/python3: ('{:.%df}' % d).format(x) and ('{:.%de}' % d).format(x).
  const fixed: [number, number, string][] = [
    [0.03125, 4, '0.0312'], [0.09375, 4, '0.0938'], [-0.03125, 4, '-0.0312'], [2.5, 0, '2'], [3.5, 0, '4'],
    [-2.5, 0, '-2'], [1.005, 2, '1.00'], [123456.78125, 4, '123456.7812'], [-0, 4, '-0.0000'], [1e-10, 4, '0.0000'],
    [99999.99995, 4, '99999.9999'], [0.5, 0, '0'], [1.5, 0, '2'], [Number.NaN, 4, 'nan'], [-Infinity, 4, '-inf'],
  ];
  for (const [x, d, want] of fixed) it(`fixed ${x} (${d})`, () => expect(formatFixed(x, d)).toBe(want));
  const sci: [number, number, string][] = [
    [1e-5, 4, '1.0000e-05'], [123456, 4, '1.2346e+05'], [9.99995, 4, '1.0000e+01'], [9.99994, 4, '9.9999e+00'], [9.99996, 4, '1.0000e+01'],
    [0, 4, '0.0000e+00'], [-1.25e-300, 4, '-1.2500e-300'], [5e-324, 4, '4.9407e-324'], [1.5, 0, '2e+00'], [2.5, 0, '2e+00'],
    [1.7976931348623157e308, 4, '1.7977e+308'], [Infinity, 4, 'inf'],
  ];
  for (const [x, d, want] of sci) it(`scientific ${x} (${d})`, () => expect(formatScientific(x, d)).toBe(want));
});

describe('backends without synchronous reads', () => {
  it('toString shows shape, dtype and device and points to print(); print() reads and logs the values', async () => {
    // The CPU backend under another name, with synchronous reads switched off (like WebGPU).
    const base = cpuBackend.create() as Backend;
    const asyncOnly: BackendFactory = {
      name: 'async-cpu', apiVersion: cpuBackend.apiVersion, priority: -1, async: false,
      create: () => new Proxy(base, {
        get(target, key, receiver) {
          if (key === 'name') return 'async-cpu';
          if (key === 'capabilities') return { ...target.capabilities, syncRead: false };
          if (key === 'readSync') return undefined;
          const v = Reflect.get(target, key, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }),
    };
    registerBackend(asyncOnly);
    const t = tensor([[1.5, -2], [3, 4]], { backend: 'async-cpu' });
    expect(String(t)).toBe("tensor(<values not readable synchronously: use await t.print()>, size=[2, 2],\n       dtype=float32, device='async-cpu')");
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const printed = await t.print();
      expect(printed).toBe("tensor([[ 1.5000, -2.0000],\n        [ 3.0000,  4.0000]], device='async-cpu')");
      expect(log).toHaveBeenCalledWith(printed);
    } finally {
      log.mockRestore();
      t.dispose();
    }
  });
});
