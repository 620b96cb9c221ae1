/**
 * A connection's subscriptions by channel name. Nearly every connection holds one, so the
 * first lives in a field and only a second one creates a Map: an empty Map alone costs about
 * 180 bytes (its hash table is allocated up front), which thousands of idle connections
 * would each pay for nothing.
 */
export class SubscriptionTable<T extends { readonly channel: string }> {
  #first: T | undefined;
  #rest: Map<string, T> | undefined;

  get size(): number {
    return (this.#first === undefined ? 0 : 1) + (this.#rest?.size ?? 0);
  }

  get(channel: string): T | undefined {
    const first = this.#first;
    if (first !== undefined && first.channel === channel) return first;
    return this.#rest?.get(channel);
  }

  /** Adds `value` under its channel, replacing any entry of the same channel. */
  set(value: T): void {
    const channel = value.channel;
    const rest = this.#rest;
    if (rest?.has(channel)) rest.set(channel, value);
    else if (this.#first === undefined || this.#first.channel === channel) this.#first = value;
    else (this.#rest ??= new Map()).set(channel, value);
  }

  delete(channel: string): boolean {
    if (this.#first !== undefined && this.#first.channel === channel) {
      this.#first = undefined;
      return true;
    }
    const rest = this.#rest;
    if (!rest?.delete(channel)) return false;
    if (rest.size === 0) this.#rest = undefined;
    return true;
  }

  /** A snapshot: the table may change while the caller walks it. */
  values(): T[] {
    const values = this.#first === undefined ? [] : [this.#first];
    if (this.#rest) values.push(...this.#rest.values());
    return values;
  }

  clear(): void {
    this.#first = undefined;
    this.#rest = undefined;
  }
}
