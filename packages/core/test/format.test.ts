// SPDX-License-Identifier: MIT
// Printing: toString / console.log / print() against strings produced by PyTorch's own printing
// (fixtures/print.json, written by scripts/fixtures/gen_print_fixtures.py with torch 1.13), the
// exact rounding helpers against Python's format(), and the unreadable/disposed cases.
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import './setup.js';
import {
  HeedError, arange, memory, registerBackend, setPrintOptions, slice, tensor, type Backend, type BackendFactory, type DType, type Shape,
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

  // Expected strings printed by /usr/bin/python3 (torch 1.13):
  //   str(torch.arange(6, dtype=torch.float32).reshape(6, 1, 1).expand(6, 20000, 10000))
  //   str(torch.arange(2000, dtype=torch.float32).reshape(40, 50).t())
  //   str(torch.arange(2 * 3 * 400).reshape(2, 3, 400)[:, :, ::2])
  it('summarised views read only the shown blocks: a 1.2-billion-element broadcast view prints', () => {
    const base = arange(6, undefined, 1, { dtype: 'float32' }).reshape([6, 1, 1]);
    const huge = base.expand([6, 20000, 10000]); // 4.8 GB if it were copied to be read
    const before = memory().numBytes;
    const rows = (v: number) => [0, 1, 2].map(() => `[${v}., ${v}., ${v}.,  ..., ${v}., ${v}., ${v}.]`);
    const block = (v: number) => `[${[...rows(v), '...', ...rows(v)].join(',\n         ')}]`;
    expect(String(huge)).toBe(`tensor([${[0, 1, 2, 3, 4, 5].map(block).join(',\n\n        ')}])`);
    expect(memory().numBytes).toBe(before);
    for (const t of [base, huge]) t.dispose();
  });

  it('summarised transposed and stepped views', () => {
    const m = arange(2000, undefined, 1, { dtype: 'float32' }).reshape([40, 50]);
    const t = m.transpose();
    expect(String(t)).toBe('tensor([[0.0000e+00, 5.0000e+01, 1.0000e+02,  ..., 1.8500e+03, 1.9000e+03,\n         1.9500e+03],\n        [1.0000e+00, 5.1000e+01, 1.0100e+02,  ..., 1.8510e+03, 1.9010e+03,\n         1.9510e+03],\n        [2.0000e+00, 5.2000e+01, 1.0200e+02,  ..., 1.8520e+03, 1.9020e+03,\n         1.9520e+03],\n        ...,\n        [4.7000e+01, 9.7000e+01, 1.4700e+02,  ..., 1.8970e+03, 1.9470e+03,\n         1.9970e+03],\n        [4.8000e+01, 9.8000e+01, 1.4800e+02,  ..., 1.8980e+03, 1.9480e+03,\n         1.9980e+03],\n        [4.9000e+01, 9.9000e+01, 1.4900e+02,  ..., 1.8990e+03, 1.9490e+03,\n         1.9990e+03]])');
    const ints = arange(2 * 3 * 400, undefined, 1, { dtype: 'int32' }).reshape([2, 3, 400]);
    const stepped = slice(ints, [null, null, [0, 400, 2]]);
    expect(String(stepped)).toBe('tensor([[[   0,    2,    4,  ...,  394,  396,  398],\n         [ 400,  402,  404,  ...,  794,  796,  798],\n         [ 800,  802,  804,  ..., 1194, 1196, 1198]],\n\n        [[1200, 1202, 1204,  ..., 1594, 1596, 1598],\n         [1600, 1602, 1604,  ..., 1994, 1996, 1998],\n         [2000, 2002, 2004,  ..., 2394, 2396, 2398]]])');
    for (const x of [m, t, ints, stepped]) x.dispose();
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
