# SPDX-License-Identifier: MIT
# Model round trip, PyTorch side: loads the safetensors file written by
# save-heed-transformer.mjs into torch.nn.Transformer (strict load_state_dict, so every key and
# shape must match PyTorch's) and checks torch's output equals the output Heed computed.
# Usage: /usr/bin/python3 scripts/roundtrip/check_in_torch.py /tmp/heed-model.safetensors
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'fixtures'))
from gen_optim_fixtures import read_safetensors  # noqa: E402


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else '/tmp/heed-model.safetensors'
    tensors, metadata, _ = read_safetensors(path)
    cfg = json.loads(metadata['config'])
    model = torch.nn.Transformer(dropout=0.0, batch_first=True, **cfg)
    state = {k: v for k, v in tensors.items() if not k.startswith('__')}
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        y = model(tensors['__input_src'], tensors['__input_tgt'])
    err = (y - tensors['__output']).abs().max().item()
    print(f'loaded {len(state)} tensors into torch.nn.Transformer (strict); max |torch - heed| = {err:.3e}')
    if err > 1e-5:
        sys.exit(1)
    print('ok')


if __name__ == '__main__':
    main()
