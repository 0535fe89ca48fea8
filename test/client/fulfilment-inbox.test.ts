import { describe, expect, it } from 'vitest';
import { FulfilmentInbox } from '../../client/fulfilment-inbox.ts';

describe('the fulfilment inbox (repeats dropped by messageId)', () => {
  it('hands a message to the handler once, and acks its repeats', () => {
    const inbox = new FulfilmentInbox();
    expect(inbox.receive('o-1:m1')).toBe('handle');
    expect(inbox.receive('o-1:m1')).toBe('wait'); // pushed again while the handler runs
    inbox.done('o-1:m1');
    expect(inbox.receive('o-1:m1')).toBe('ack');
    expect(inbox.receive('o-1:m1')).toBe('ack');
    expect(inbox.receive('o-1:m2')).toBe('handle');
  });

  it('gives a message whose handler failed to the handler again', () => {
    const inbox = new FulfilmentInbox();
    expect(inbox.receive('m')).toBe('handle');
    inbox.failed('m');
    expect(inbox.receive('m')).toBe('handle');
  });

  it('remembers the most recent ids within its capacity', () => {
    const inbox = new FulfilmentInbox(3);
    for (const id of ['a', 'b', 'c', 'd']) {
      inbox.receive(id);
      inbox.done(id);
    }
    expect(inbox.receive('d')).toBe('ack');
    expect(inbox.receive('b')).toBe('ack');
    expect(inbox.receive('a')).toBe('handle'); // forgotten: the oldest
  });
});
