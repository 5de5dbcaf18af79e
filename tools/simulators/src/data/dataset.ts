import type {
  RaiseCampaignModel,
  RaiseDonorModel,
  RaiseGiftModel,
  RaiseModelByResource,
  RaiseRecurringGiftModel,
  RaiseResource,
  VomoUserResource,
} from '@raise-sync/sources';
import { hash32, Prng } from '../prng';
import { Table, type Overrides } from '../store/table';
import {
  CAMPAIGN_THEMES,
  COMMON_AMOUNTS,
  EMAIL_DOMAINS,
  FIRST_NAMES,
  LAST_NAMES,
  ORG_KINDS,
  ORG_WORDS,
  PAYMENT_TYPES,
  PLACES,
  PROJECTS,
  SEGMENTS,
  STREETS,
} from './vocabulary';

/** Every resource the simulator holds: the four Raise ones and VOMO users. */
export type SimResource = RaiseResource | 'user';
export const SIM_RESOURCES: readonly SimResource[] = [
  'donor',
  'gift',
  'recurring_gift',
  'campaign',
  'user',
];

export type ModelFor<R extends SimResource> = R extends RaiseResource
  ? RaiseModelByResource[R]
  : VomoUserResource;

/** First id of each resource is base + 1. Distinct ranges make an id mixed up between resources stand out. */
export const ID_BASE: Record<SimResource, number> = {
  campaign: 100,
  donor: 10_000,
  recurring_gift: 50_000,
  gift: 1_000_000,
  user: 8_000,
};

const SALT: Record<SimResource, number> = {
  donor: 0xd0,
  gift: 0x91,
  recurring_gift: 0x7e,
  campaign: 0xca,
  user: 0x05,
};

export const DAY_MS = 86_400_000;

export interface DatasetOptions {
  seed: number;
  /** Generated times fall in [anchor - spanMs, anchor]. */
  anchorMs: number;
  spanMs?: number;
  counts: Record<SimResource, number>;
  testModeFraction: number;
}

/** A record's state at one moment: what a webhook delivered later must show. */
export interface RecordSnapshot {
  resource: SimResource;
  slot: number;
  created: number;
  modified: number;
  date: number;
  amount: number;
  test: boolean;
  over: Overrides | undefined;
}

/** Gift status integers are unmapped in the docs; this table is ours (see README). */
export const GIFT_STATUS: Record<number, string> = {
  1: 'Success',
  2: 'Pending',
  3: 'Failed',
  4: 'Refunded',
};
export const RECURRING_STATUS: Record<number, string> = { 1: 'Active', 2: 'Paused', 3: 'Canceled' };
export const FREQUENCY: Record<number, { label: string; months: number }> = {
  1: { label: 'Monthly', months: 1 },
  2: { label: 'Quarterly', months: 3 },
  3: { label: 'Annually', months: 12 },
};

/** Model fields kept in columns rather than in overrides, per resource. */
export const COLUMN_FIELDS: Record<
  SimResource,
  Partial<Record<string, 'created' | 'modified' | 'date' | 'amount' | 'test'>>
> = {
  donor: { createdDate: 'created', modifiedDate: 'modified', isTestMode: 'test' },
  gift: {
    createdDate: 'created',
    modifiedDate: 'modified',
    date: 'date',
    amount: 'amount',
    isTestMode: 'test',
  },
  recurring_gift: {
    createdDate: 'created',
    modifiedDate: 'modified',
    startDate: 'date',
    amount: 'amount',
    isTestMode: 'test',
  },
  campaign: { createdDateTime: 'created', modifiedDateTime: 'modified', startDate: 'date' },
  user: { created_at: 'created', updated_at: 'modified' },
};

const iso = (ms: number): string | null => (Number.isNaN(ms) ? null : new Date(ms).toISOString());

/** VOMO's style: second precision with an explicit `+00:00` offset. */
export const vomoTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + '+00:00';

/** `$1,234.50` (toLocaleString is far too slow for a million records). */
export function money(value: number): string {
  if (Number.isNaN(value)) {
    return '';
  }
  const [whole, cents] = Math.abs(value).toFixed(2).split('.') as [string, string];
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${value < 0 ? '-' : ''}$${grouped}.${cents}`;
}

function addMonths(ms: number, months: number): number {
  const d = new Date(ms);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.getTime();
}

/**
 * One org's generated data. Generation fills only the columns (a few numbers per record, in one
 * pass over a seeded stream); names, emails, links and the rest are derived per record from
 * hash(seed, resource, id) when a record is read, so they cost nothing until used.
 */
export class Dataset {
  readonly tables: Record<SimResource, Table>;
  /** How many records of each resource generation produced (derivation depends on it). */
  readonly initial: Record<SimResource, number>;
  readonly seed: number;
  readonly anchorMs: number;
  readonly testModeFraction: number;
  /** Latest modified time across all generated records. */
  readonly latestGenerated: number;

  constructor(options: DatasetOptions) {
    this.seed = options.seed >>> 0 === options.seed ? options.seed : hash32(options.seed);
    this.anchorMs = options.anchorMs;
    this.testModeFraction = options.testModeFraction;
    this.initial = { ...options.counts };
    const span = options.spanMs ?? 30 * DAY_MS;
    this.tables = {
      donor: new Table(ID_BASE.donor + 1, options.counts.donor),
      gift: new Table(ID_BASE.gift + 1, options.counts.gift),
      recurring_gift: new Table(ID_BASE.recurring_gift + 1, options.counts.recurring_gift),
      campaign: new Table(ID_BASE.campaign + 1, options.counts.campaign),
      user: new Table(ID_BASE.user + 1, options.counts.user),
    };
    let latest = 0;
    for (const resource of SIM_RESOURCES) {
      latest = Math.max(latest, this.generate(resource, options.counts[resource], span));
    }
    this.latestGenerated = latest;
  }

  /** Per-record stream: the same (seed, resource, id) always yields the same fields. */
  private recordRng(resource: SimResource, id: number): Prng {
    return new Prng(hash32(this.seed, SALT[resource], id));
  }

  /** Fills the columns of `count` records; returns the latest modified time. */
  private generate(resource: SimResource, count: number, span: number): number {
    const table = this.tables[resource];
    if (count <= 0) {
      return 0;
    }
    table.reserve(count);
    const rng = new Prng(hash32(this.seed, SALT[resource], 0xc0ffee));
    // VOMO reports times to the second only; Raise to the millisecond.
    const unit = resource === 'user' ? 1000 : 1;
    const anchor = Math.floor(this.anchorMs / unit) * unit;
    const start = anchor - span;
    // A handful of instants shared by many records (bulk edits), so sorts and cursors meet ties.
    const shared: number[] = [];
    for (let k = 0; k < 12; k++) {
      shared.push(Math.floor((start + rng.next() * span) / unit) * unit);
    }
    const { created, modified, date, amount, flags } = table;
    const fraction = resource === 'campaign' || resource === 'user' ? 0 : this.testModeFraction;
    // Volunteers sign up in waves (events, drives); Raise records come a little more evenly.
    const burst = resource === 'user' ? 0.15 : 0.04;
    let previous = start;
    let latest = 0;
    for (let i = 0; i < count; i++) {
      const base = Math.floor((start + (span * (i + rng.next())) / count) / unit) * unit;
      // A few records arrive in the same instant as the one before (imports, batch charges).
      const c = i > 0 && rng.next() < burst ? previous : Math.max(previous, base);
      previous = c;
      let m = c;
      const r = rng.next();
      if (r >= 0.6 && r < 0.94) {
        m = Math.floor((c + rng.next() * (anchor - c)) / unit) * unit;
      } else if (r >= 0.94) {
        const instant = shared[rng.int(shared.length)]!;
        m = instant >= c ? instant : c;
      }
      created[i] = c;
      modified[i] = m;
      if (m > latest) {
        latest = m;
      }
      flags[i] = rng.next() < fraction ? 2 : 0;
      switch (resource) {
        case 'gift':
          amount[i] =
            rng.next() < 0.75
              ? COMMON_AMOUNTS[rng.int(COMMON_AMOUNTS.length)]!
              : Math.round((5 + rng.next() * 995) * 100) / 100;
          // The gift date is the charge time, shortly before the record was written.
          date[i] = c - Math.floor(rng.next() * 90_000);
          break;
        case 'recurring_gift':
          amount[i] = COMMON_AMOUNTS[rng.int(8)]!;
          date[i] = c;
          break;
        case 'campaign':
          amount[i] = Number.NaN;
          date[i] = Math.floor((c + rng.next() * 20 * DAY_MS) / DAY_MS) * DAY_MS;
          break;
        case 'donor':
        case 'user':
          amount[i] = Number.NaN;
          date[i] = Number.NaN;
          break;
      }
    }
    table.commitBulk(count);
    return latest;
  }

  snapshot(resource: SimResource, slot: number): RecordSnapshot {
    const t = this.tables[resource];
    return {
      resource,
      slot,
      created: t.created[slot]!,
      modified: t.modified[slot]!,
      date: t.date[slot]!,
      amount: t.amount[slot]!,
      test: t.isTest(slot),
      over: t.overrides.get(slot),
    };
  }

  materialize<R extends SimResource>(resource: R, slot: number): ModelFor<R> {
    return this.fromSnapshot(this.snapshot(resource, slot)) as ModelFor<R>;
  }

  fromSnapshot(s: RecordSnapshot): ModelFor<SimResource> {
    switch (s.resource) {
      case 'donor':
        return this.donor(s);
      case 'gift':
        return this.gift(s);
      case 'recurring_gift':
        return this.recurringGift(s);
      case 'campaign':
        return this.campaign(s);
      case 'user':
        return this.user(s);
    }
  }

  /** Picks a slot among the first `fraction` of `resource`'s generated records, or -1. */
  private proportionalSlot(resource: SimResource, u: number, position: number, of: number): number {
    const available = this.initial[resource];
    if (available <= 0) {
      return -1;
    }
    const limit = Math.max(1, Math.ceil((available * (position + 1)) / Math.max(1, of)));
    return Math.min(available - 1, Math.floor(u * limit));
  }

  /** Chooses links for a record created after generation: any live record, or null. */
  pickLiveId(resource: SimResource, rng: Prng): number | null {
    const table = this.tables[resource];
    if (table.liveCount === 0) {
      return null;
    }
    for (let attempt = 0; attempt < 16; attempt++) {
      const slot = rng.int(table.size);
      if (table.isLive(slot)) {
        return table.idOf(slot);
      }
    }
    return null;
  }

  private person(rng: Prng, id: number) {
    const firstName: string = rng.pick(FIRST_NAMES);
    const lastName: string = rng.pick(LAST_NAMES);
    const style = rng.int(4);
    const domain = rng.pick(EMAIL_DOMAINS);
    const first = firstName.toLowerCase();
    const last = lastName.toLowerCase().replace(/[^a-z]/g, '');
    // The id keeps generated emails unique; the style varies their shape.
    const local =
      style === 0
        ? `${first}.${last}.${id}`
        : style === 1
          ? `${first[0]}${last}${id}`
          : style === 2
            ? `${first}${id}`
            : `${last}.${first}+${id}`;
    const phone = `(${rng.between(201, 989)}) ${rng.between(200, 999)}-${rng.between(1000, 9999)}`;
    const place = rng.pick(PLACES);
    const address = {
      address1: `${rng.between(1, 9999)} ${rng.pick(STREETS)}`,
      address2: null,
      city: place[0],
      state: place[1],
      postal: `${place[2]}${rng.between(10, 99)}`,
      countryString: 'United States',
    };
    return { firstName, lastName, email: `${local}@${domain}`, phone, address };
  }

  private donor(s: RecordSnapshot): RaiseDonorModel {
    const id = this.tables.donor.idOf(s.slot);
    const rng = this.recordRng('donor', id);
    const p = this.person(rng, id);
    const isOrganization = rng.chance(0.08);
    const organizationName = isOrganization
      ? `${rng.pick(ORG_WORDS)} ${rng.pick(ORG_KINDS)}`
      : null;
    const hasEmail = rng.chance(0.85);
    const hasPhone = rng.chance(0.6);
    const optedIn = rng.chance(0.7);
    const crmKey = rng.chance(0.6) ? String(rng.between(100_000, 999_999)) : null;
    const isArchived = rng.chance(0.02);
    const over = s.over;
    const firstName = (over?.firstName as string | null | undefined) ?? p.firstName;
    const lastName = (over?.lastName as string | null | undefined) ?? p.lastName;
    const isOrg = (over?.isOrganization as boolean | undefined) ?? isOrganization;
    const orgName = (over?.organizationName as string | null | undefined) ?? organizationName;
    const email =
      over && 'email' in over ? (over.email as string | null) : hasEmail ? p.email : null;
    const key = over && 'crmKey' in over ? (over.crmKey as string | null) : crmKey;
    const model: RaiseDonorModel = {
      id,
      name: isOrg && orgName ? orgName : `${firstName ?? ''} ${lastName ?? ''}`.trim(),
      title: null,
      firstName,
      middleName: null,
      lastName,
      suffix: null,
      email,
      phone: hasPhone ? p.phone : null,
      isOrganization: isOrg,
      organizationName: orgName,
      isTestMode: s.test,
      isArchived,
      isGDPRDeleted: false,
      crmKey: key,
      crmSecondKey: null,
      crmKeyUrls: key
        ? {
            CRMPlus: {
              url: `https://app.virtuoussoftware.com/Generosity/Contact/View/${key}`,
              name: 'Virtuous CRM+',
            },
          }
        : {},
      notes: null,
      primaryAddress: p.address,
      donorEmailAddresses: email
        ? [
            {
              id: id * 10 + 1,
              donorId: id,
              typeDisplay: 'Home',
              value: email,
              isPrimary: true,
              isOptedIn: optedIn,
              isEmail: true,
              isPhone: false,
            },
          ]
        : [],
      createdDate: iso(s.created)!,
      modifiedDate: iso(s.modified)!,
    };
    return over ? Object.assign(model, over, { email, crmKey: key }) : model;
  }

  /** The donor a generated recurring gift belongs to (first draw of its stream). */
  private recurringDonorId(recurringSlot: number): number | null {
    const id = this.tables.recurring_gift.idOf(recurringSlot);
    const rng = this.recordRng('recurring_gift', id);
    const slot = this.proportionalSlot(
      'donor',
      rng.next(),
      recurringSlot,
      this.initial.recurring_gift,
    );
    return slot < 0 ? null : this.tables.donor.idOf(slot);
  }

  campaignName(campaignSlot: number): string {
    const table = this.tables.campaign;
    const override = table.overrides.get(campaignSlot)?.name;
    if (typeof override === 'string') {
      return override;
    }
    const id = table.idOf(campaignSlot);
    const rng = this.recordRng('campaign', id);
    const theme = rng.pick(CAMPAIGN_THEMES);
    const year = new Date(this.anchorMs).getUTCFullYear();
    return `${theme} ${year} #${campaignSlot + 1}`;
  }

  private gift(s: RecordSnapshot): RaiseGiftModel {
    const id = this.tables.gift.idOf(s.slot);
    const rng = this.recordRng('gift', id);
    const linkRecurring = rng.next();
    const recurringPick = rng.next();
    const donorPick = rng.next();
    const campaignLink = rng.next();
    const campaignPick = rng.next();
    let donorId: number | null = null;
    let recurringGiftId: number | null = null;
    let campaignName: string | null = null;
    if (s.slot < this.initial.gift) {
      const n = this.initial.gift;
      if (linkRecurring < 0.2 && this.initial.recurring_gift > 0) {
        const rs = this.proportionalSlot('recurring_gift', recurringPick, s.slot, n);
        recurringGiftId = this.tables.recurring_gift.idOf(rs);
        donorId = this.recurringDonorId(rs);
      } else {
        const ds = this.proportionalSlot('donor', donorPick, s.slot, n);
        donorId = ds < 0 ? null : this.tables.donor.idOf(ds);
      }
      if (campaignLink < 0.85 && this.initial.campaign > 0) {
        campaignName = this.campaignName(
          this.proportionalSlot('campaign', campaignPick, s.slot, n),
        );
      }
    }
    const statusRoll = rng.next();
    const status = statusRoll < 0.92 ? 1 : statusRoll < 0.94 ? 2 : statusRoll < 0.96 ? 3 : 4;
    const currency = rng.chance(0.9) ? 'USD' : rng.pick(['CAD', 'GBP', 'EUR']);
    const isAnonymous = rng.chance(0.04);
    const paymentType = rng.pick(PAYMENT_TYPES);
    const transactionId = `ch_${rng.hex(24)}`;
    const segment = rng.chance(0.7) ? rng.pick(SEGMENTS) : null;
    const projectIndex = rng.int(PROJECTS.length);
    const amount = s.amount;
    const model: RaiseGiftModel = {
      id,
      donorId,
      recurringGiftId,
      amount,
      formattedAmount: money(amount),
      currency,
      date: iso(s.date),
      status,
      statusText: GIFT_STATUS[status] ?? null,
      isTestMode: s.test,
      isAnonymous,
      canRefund: status === 1 && !s.test,
      paymentType,
      transactionId,
      campaignName,
      segment,
      projects: [{ projectId: projectIndex + 1, name: PROJECTS[projectIndex]!, amount }],
      createdDate: iso(s.created)!,
      modifiedDate: iso(s.modified)!,
    };
    if (s.over) {
      Object.assign(model, s.over);
      if (typeof s.over.status === 'number' && !('statusText' in s.over)) {
        model.statusText = GIFT_STATUS[s.over.status] ?? null;
      }
    }
    return model;
  }

  private recurringGift(s: RecordSnapshot): RaiseRecurringGiftModel {
    const id = this.tables.recurring_gift.idOf(s.slot);
    const rng = this.recordRng('recurring_gift', id);
    const donorPick = rng.next();
    let donorId: number | null = null;
    if (s.slot < this.initial.recurring_gift) {
      const ds = this.proportionalSlot('donor', donorPick, s.slot, this.initial.recurring_gift);
      donorId = ds < 0 ? null : this.tables.donor.idOf(ds);
    }
    const frequencyRoll = rng.next();
    const frequency = frequencyRoll < 0.75 ? 1 : frequencyRoll < 0.9 ? 2 : 3;
    const statusRoll = rng.next();
    const status = statusRoll < 0.8 ? 1 : statusRoll < 0.9 ? 2 : 3;
    const crmKey = rng.chance(0.5) ? String(rng.between(10_000, 99_999)) : null;
    const months = FREQUENCY[frequency]!.months;
    let next = Number.isNaN(s.date) ? Number.NaN : s.date;
    let cycles = 0;
    while (!Number.isNaN(next) && next <= this.anchorMs && cycles < 400) {
      next = addMonths(next, months);
      cycles++;
    }
    const model: RaiseRecurringGiftModel = {
      id,
      donorId,
      amount: s.amount,
      formattedAmount: money(s.amount),
      currencyCode: 'USD',
      frequency,
      formattedFrequency: FREQUENCY[frequency]!.label,
      status,
      statusText: RECURRING_STATUS[status] ?? null,
      startDate: iso(s.date),
      nextChargeDate: status === 3 ? null : iso(next),
      successfulCycles: cycles,
      crmKey,
      crmKeyUrls: crmKey
        ? {
            CRMPlus: {
              url: `https://app.virtuoussoftware.com/Generosity/RecurringGift/View/${crmKey}`,
              name: 'Virtuous CRM+',
            },
          }
        : {},
      isTestMode: s.test,
      createdDate: iso(s.created)!,
      modifiedDate: iso(s.modified)!,
    };
    return s.over ? Object.assign(model, s.over) : model;
  }

  private campaign(s: RecordSnapshot): RaiseCampaignModel {
    const id = this.tables.campaign.idOf(s.slot);
    const rng = this.recordRng('campaign', id);
    rng.next(); // theme, drawn by campaignName()
    const days = rng.between(30, 120);
    const canSync = rng.chance(0.75);
    const crmKey = canSync && rng.chance(0.7) ? String(rng.between(1000, 9999)) : null;
    const goal = rng.pick([5_000, 10_000, 25_000, 50_000, 100_000]);
    const model: RaiseCampaignModel = {
      id,
      name: this.campaignName(s.slot),
      description: `Simulated campaign ${id}`,
      startDate: iso(s.date),
      endDate: Number.isNaN(s.date) ? null : iso(s.date + days * DAY_MS),
      duration: days,
      canSync,
      crmKey,
      crmKeyUrls: crmKey
        ? {
            CRMPlus: {
              url: `https://app.virtuoussoftware.com/Generosity/Project/View/${crmKey}`,
              name: 'Virtuous CRM+',
            },
          }
        : {},
      givingGoal: goal,
      hasGivingGoal: true,
      givingGoalFormatted: money(goal),
      createdDateTime: iso(s.created)!,
      modifiedDateTime: iso(s.modified)!,
    };
    return s.over ? Object.assign(model, s.over) : model;
  }

  private user(s: RecordSnapshot): VomoUserResource {
    const id = this.tables.user.idOf(s.slot);
    const rng = this.recordRng('user', id);
    let p = this.person(rng, id);
    // About a third of volunteers also give: same person, same email as a Raise donor.
    const alsoDonor = rng.next();
    const donorPick = rng.next();
    if (alsoDonor < 0.3 && this.initial.donor > 0 && s.slot < this.initial.user) {
      const donor = this.donor(this.snapshot('donor', Math.floor(donorPick * this.initial.donor)));
      if (donor.email && !donor.isOrganization && donor.firstName && donor.lastName) {
        p = { ...p, firstName: donor.firstName, lastName: donor.lastName, email: donor.email };
      }
    }
    const year = rng.between(1950, 2006);
    const birthday = `${year}-${String(rng.between(1, 12)).padStart(2, '0')}-${String(rng.between(1, 28)).padStart(2, '0')}`;
    const genderRoll = rng.next();
    const gender: 'M' | 'F' | 'N' = genderRoll < 0.48 ? 'F' : genderRoll < 0.95 ? 'M' : 'N';
    const roleRoll = rng.next();
    const model: VomoUserResource = {
      type: 'user',
      id,
      first_name: p.firstName,
      last_name: p.lastName,
      full_name: `${p.firstName} ${p.lastName}`,
      email: p.email,
      phone: rng.chance(0.7) ? p.phone : null,
      address: `${p.address.address1}, ${p.address.city}, ${p.address.state} ${p.address.postal}`,
      birthday,
      gender,
      user_status: rng.chance(0.9) ? 'VERIFIED' : 'UNVERIFIED',
      membership_status: rng.chance(0.92) ? 'ACCEPTED' : 'PENDING',
      membership_role: roleRoll < 0.9 ? 'VOLUNTEER' : roleRoll < 0.97 ? 'ORGANIZER' : 'ADMIN',
      created_at: vomoTime(s.created),
      updated_at: vomoTime(s.modified),
    };
    if (s.over) {
      Object.assign(model, s.over);
      if (!('full_name' in s.over) && ('first_name' in s.over || 'last_name' in s.over)) {
        model.full_name = `${model.first_name ?? ''} ${model.last_name ?? ''}`.trim();
      }
    }
    return model;
  }
}
