// SPDX-License-Identifier: MIT
// The lazy backend's live list (src/lazy/live-list.ts): recording order kept through deletes
// anywhere in the list, add/delete idempotent, and a deleted buffer left pointing at nothing
// (the reason it replaced a Set: a dropped node must not keep its neighbours reachable).
import { describe, expect, it } from 'vitest';
import { LazyBuffer } from '../src/lazy/graph.js';
import { LiveList } from '../src/lazy/live-list.js';

const make = (n: number): LazyBuffer[] => Array.from({ length: n }, () => new LazyBuffer('float32', [1]));
const ids = (l: LiveList): number[] => l.toArray().map((b) => b.id);

describe('LiveList', () => {
  it('keeps insertion order through deletes at the head, middle and tail', () => {
    const bs = make(5);
    const l = new LiveList();
    for (const b of bs) l.add(b);
    expect(ids(l)).toEqual(bs.map((b) => b.id));
    l.delete(bs[0]);
    l.delete(bs[2]);
    l.delete(bs[4]);
    expect(ids(l)).toEqual([bs[1].id, bs[3].id]);
    l.add(bs[2]);
    expect(ids(l)).toEqual([bs[1].id, bs[3].id, bs[2].id]);
    for (const b of bs) l.delete(b);
    expect(ids(l)).toEqual([]);
    expect(l.first).toBeNull();
  });

  it('add and delete are idempotent', () => {
    const [a, b] = make(2);
    const l = new LiveList();
    l.add(a); l.add(a); l.add(b);
    expect(ids(l)).toEqual([a.id, b.id]);
    l.delete(a); l.delete(a);
    expect(ids(l)).toEqual([b.id]);
    const other = new LazyBuffer('float32', [1]);
    l.delete(other); // never added: no-op
    expect(ids(l)).toEqual([b.id]);
  });

  it('a deleted buffer points at no neighbour, and its neighbours are relinked', () => {
    const [a, b, c] = make(3);
    const l = new LiveList();
    l.add(a); l.add(b); l.add(c);
    l.delete(b);
    expect([b.inLive, b.prevLive, b.nextLive]).toEqual([false, null, null]);
    expect(a.nextLive).toBe(c);
    expect(c.prevLive).toBe(a);
  });

  it('toArray is a copy: the list may change while it is visited', () => {
    const bs = make(4);
    const l = new LiveList();
    for (const b of bs) l.add(b);
    const seen: number[] = [];
    for (const b of l.toArray()) { seen.push(b.id); l.delete(b); l.delete(bs[3]); }
    expect(seen).toEqual(bs.map((b) => b.id));
    expect(ids(l)).toEqual([]);
  });
});
