// SPDX-License-Identifier: MIT
// CommonJS consumer: require() of the ESM-only packages (Node >= 20.19 loads ESM through
// require when `exports` has a `default` condition). Prints the sum of [1, 2, 3] * 2.
const { registerBackend, setBackend, tensor } = require('@heed/core');
const { cpuBackend } = require('@heed/backend-cpu');

registerBackend(cpuBackend);
setBackend('cpu').then(async () => {
  console.log(JSON.stringify(Array.from(await tensor([1, 2, 3]).mul(2).data())));
});
