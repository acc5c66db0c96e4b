/**
 * Open connections per client address, for the per-client connection cap: one address cannot
 * hold more than its share of the gateway's file descriptors.
 */
export class ClientCounts {
  private readonly open = new Map<string, number>();

  /** Counts a new connection from `client`; false (and not counted) when it already has `max`. */
  add(client: string, max: number): boolean {
    const n = this.open.get(client) ?? 0;
    if (n >= max) return false;
    this.open.set(client, n + 1);
    return true;
  }

  /** A counted connection from `client` closed. */
  remove(client: string): void {
    const n = this.open.get(client) ?? 0;
    if (n <= 1) this.open.delete(client);
    else this.open.set(client, n - 1);
  }
}
