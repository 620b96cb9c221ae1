/**
 * A FIFO whose entries are removed lazily: an entry marked `gone` (sent, evicted) stays in
 * the array until the head passes it or the array is compacted. O(1) push, amortised O(1)
 * access to the first live entry.
 *
 * The owner calls `released()` once for every entry of this FIFO it marks `gone`, so the
 * FIFO knows how many live entries it holds and compacts whenever dead slots outnumber live
 * ones (plus a small slack): its size follows the live entries whatever the removal order,
 * even if nobody ever asks for `first()` (a queue that is flushed as fast as it is filled
 * must not keep a reference to every frame it ever sent).
 */
const SLACK = 32;

export class LazyFifo<T extends { gone: boolean }> {
  #items: Array<T | undefined> = [];
  #head = 0;
  #live = 0;

  /** Slots held, live or dead: at most 2 × live + a small constant. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
    this.#live++;
  }

  /** Tells the FIFO that one of its entries was just marked `gone`. */
  released(): void {
    this.#live--;
    // Dead entries at the head are dropped at once (the common case: sent in order).
    this.#skipDead();
    if (this.#items.length - this.#head > 2 * this.#live + SLACK) this.#compact();
  }

  /** The first live entry; when that is `skip`, the next live one. */
  first(skip?: T): T | undefined {
    this.#skipDead();
    for (let index = this.#head; index < this.#items.length; index++) {
      const item = this.#items[index]!;
      if (!item.gone && item !== skip) return item;
    }
    return undefined;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#live = 0;
  }

  #skipDead(): void {
    const items = this.#items;
    let head = this.#head;
    while (head < items.length && items[head]!.gone) items[head++] = undefined;
    if (head === items.length) {
      // Empty: reset in place (no allocation on the hot path of a queue that keeps up).
      items.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > items.length) {
      this.#items = items.slice(head);
      head = 0;
    }
    this.#head = head;
  }

  #compact(): void {
    const live: Array<T | undefined> = [];
    for (let index = this.#head; index < this.#items.length; index++) {
      const item = this.#items[index]!;
      if (!item.gone) live.push(item);
    }
    this.#items = live;
    this.#head = 0;
  }
}
