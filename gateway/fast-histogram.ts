import { Histogram, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';

type Values = MetricObjectWithValues<MetricValueWithName<string>>;
type Registers = NonNullable<ConstructorParameters<typeof Histogram>[0]['registers']>;

/**
 * A prom-client Histogram with one label whose values are known up front, observed by index
 * into typed arrays. prom-client's own observe hashes the label set on every call (measured about
 * 270 ns per observation here); this one costs a bucket search and two additions, and builds the
 * exposition only when scraped. It registers and serialises like any other prom-client metric.
 */
export class FastHistogram extends Histogram {
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: Float64Array;
  private readonly labelName: string;
  private readonly labelValues: readonly string[];
  /** Per label value: one count per bucket (not cumulative), then sum and count. */
  private readonly cells: Float64Array[];

  constructor(config: {
    name: string;
    help: string;
    labelName: string;
    labelValues: readonly string[];
    buckets: readonly number[];
    registers: Registers;
  }) {
    super({
      name: config.name,
      help: config.help,
      labelNames: [config.labelName],
      buckets: [...config.buckets],
      registers: config.registers,
    });
    this.metricName = config.name;
    this.metricHelp = config.help;
    this.bounds = Float64Array.from(config.buckets);
    this.labelName = config.labelName;
    this.labelValues = config.labelValues;
    this.cells = config.labelValues.map(() => new Float64Array(config.buckets.length + 3));
  }

  /** Observes `value` under the label value at `index` (of the constructor's labelValues). */
  observeAt(index: number, value: number): void {
    const cell = this.cells[index];
    if (cell === undefined) return;
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && value > (bounds[b] as number)) b++;
    const n = bounds.length;
    cell[b] = (cell[b] as number) + 1; // b === n is the +Inf bucket
    cell[n + 1] = (cell[n + 1] as number) + value;
    cell[n + 2] = (cell[n + 2] as number) + 1;
  }

  override get(): Promise<Values> {
    return Promise.resolve(this.snapshot());
  }

  /** prom-client's registry prefers this method when present. */
  getForPromString(): Promise<Values> {
    return Promise.resolve(this.snapshot());
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class has set its fields.
    super.reset();
    for (const cell of (this.cells as Float64Array[] | undefined) ?? []) cell.fill(0);
  }

  private snapshot(): Values {
    const values: MetricValueWithName<string>[] = [];
    const n = this.bounds.length;
    this.cells.forEach((cell, i) => {
      const count = cell[n + 2] as number;
      if (count === 0) return;
      const label = this.labelValues[i] as string;
      let acc = 0;
      for (let b = 0; b < n; b++) {
        acc += cell[b] as number;
        values.push({
          metricName: `${this.metricName}_bucket`,
          labels: { [this.labelName]: label, le: this.bounds[b] },
          value: acc,
        });
      }
      values.push({
        metricName: `${this.metricName}_bucket`,
        labels: { [this.labelName]: label, le: '+Inf' },
        value: count,
      });
      values.push({
        metricName: `${this.metricName}_sum`,
        labels: { [this.labelName]: label },
        value: cell[n + 1] as number,
      });
      values.push({
        metricName: `${this.metricName}_count`,
        labels: { [this.labelName]: label },
        value: count,
      });
    });
    // prom-client's typings declare `type` as a numeric enum, but the registry writes the string
    // into the `# TYPE` line; this is the object its own Histogram returns.
    return {
      name: this.metricName,
      help: this.metricHelp,
      type: 'histogram',
      aggregator: 'sum',
      values,
    } as unknown as Values;
  }
}
