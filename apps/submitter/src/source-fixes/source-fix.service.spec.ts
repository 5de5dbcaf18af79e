import { summaryOf } from './source-fix.service';
import type { SourceFixGroupRow } from './source-fix.repository';

const group = (over: Partial<SourceFixGroupRow>): SourceFixGroupRow => ({
  destinationId: 'd',
  destination: 'crm-plus',
  problem: 'contact_without_email',
  resource: 'donor',
  records: 1,
  waitingFor: 1,
  oldest: new Date(0),
  ...over,
});

describe(summaryOf.name, () => {
  it('says how many records lack what, in words a partner reads', () => {
    expect(summaryOf(group({ records: 69, waitingFor: 69 }))).toBe('69 donors have no email');
    expect(summaryOf(group({ records: 1 }))).toBe('1 donor has no email');
    expect(summaryOf(group({ resource: 'user', records: 2 }))).toBe('2 volunteers have no email');
    expect(
      summaryOf(
        group({ problem: 'donor_without_email', resource: 'gift', records: 337, waitingFor: 69 }),
      ),
    ).toBe('337 gifts wait for 69 donors without an email');
    expect(
      summaryOf(group({ problem: 'donor_without_email', resource: 'recurring_gift', records: 1 })),
    ).toBe('1 recurring gift waits for 1 donor without an email');
    expect(summaryOf(group({ problem: 'gift_without_email', resource: 'gift', records: 3 }))).toBe(
      '3 gifts have neither a donor nor an email',
    );
  });
});
