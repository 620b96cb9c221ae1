/**
 * A fixed-capacity FIFO on a circular array: O(1) push and shift, O(1) indexed reads, and
 * memory that never grows past the capacity given at construction. The broker uses it for
 * channel history and for subscriber queues; callers decide what happens when it is full.
 */
export class RingBuffer<T> {
  readonly capacity: number;
  #items: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError(`RingBuffer capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
    // Grown lazily (doubling) up to the capacity, so a large limit costs nothing until used.
    this.#items = new Array<T | undefined>(Math.min(capacity, 16));
  }

  get size(): number {
    return this.#size;
  }

  get full(): boolean {
    return this.#size >= this.capacity;
  }

  /** Appends; returns false (and stores nothing) when the buffer is full. */
  push(item: T): boolean {
    if (this.#size >= this.capacity) return false;
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) % this.#items.length] = item;
    this.#size++;
    return true;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined; // let the GC have it
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return item;
  }

  /** The item at `index` (0 = oldest). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#size) return undefined;
    return this.#items[(this.#head + index) % this.#items.length];
  }

  peek(): T | undefined {
    return this.at(0);
  }

  clear(): void {
    this.#items = new Array<T | undefined>(Math.min(this.capacity, 16));
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const next = new Array<T | undefined>(Math.min(this.capacity, this.#items.length * 2 || 1));
    for (let i = 0; i < this.#size; i++)
      next[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = next;
    this.#head = 0;
  }
}
