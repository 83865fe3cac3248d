import { describe, expect, it } from 'vitest';
import { BodyBudget } from '../../../src/server/http/body-budget.js';
import { HttpError } from '../../../src/protocol/errors.js';

const refusal = (f: () => unknown): { status: number; retryAfter?: number } | null => {
  try {
    f();
    return null;
  } catch (e) {
    return { status: (e as HttpError).status, retryAfter: (e as HttpError).retryAfter };
  }
};

describe('BodyBudget', () => {
  it('a namespace past its share gets 429, the server past its total 503, and released bytes come back once', () => {
    const b = new BodyBudget(100, 60);
    const a1 = b.take('a', 40);
    expect(refusal(() => b.take('a', 30))).toEqual({ status: 429, retryAfter: 2 });
    const b1 = b.take('b', 50);
    expect(refusal(() => b.take('c', 20))).toEqual({ status: 503, retryAfter: 2 });
    expect(b.used).toBe(90);
    a1();
    a1(); // a second release gives nothing back twice
    expect(b.used).toBe(50);
    const a2 = b.take('a', 50);
    b1();
    a2();
    expect(b.used).toBe(0);
  });

  it('a body larger than a share (or the total) goes alone: the route’s own limit says what is too large', () => {
    const b = new BodyBudget(100, 60);
    const big = b.take('a', 150);
    expect(refusal(() => b.take('b', 1))).toEqual({ status: 503, retryAfter: 2 });
    big();
    const share = b.take('a', 80);
    expect(refusal(() => b.take('a', 1))?.status).toBe(429);
    share();
  });
});
