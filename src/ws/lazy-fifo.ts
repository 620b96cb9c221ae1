/**
 * A FIFO whose entries are removed lazily: an entry marked `gone` (sent, evicted) stays in
 * the array until the head passes it. O(1) push, amortised O(1) access to the first live
 * entry; the dead prefix is sliced off once it dominates, so memory follows live entries.
 */
export class LazyFifo<T extends { gone: boolean }> {
  #items: T[] = [];
  #head = 0;

  push(item: T): void {
    this.#items.push(item);
  }

  /** The first live entry; when that is `skip`, the next live one. */
  first(skip?: T): T | undefined {
    while (this.#head < this.#items.length && this.#items[this.#head]!.gone) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    for (let index = this.#head; index < this.#items.length; index++) {
      const item = this.#items[index]!;
      if (!item.gone && item !== skip) return item;
    }
    return undefined;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
