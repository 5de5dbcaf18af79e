import type {
  RaiseCampaignModel,
  RaiseClient,
  RaiseCredentials,
  RaiseGiftModel,
} from '@raise-sync/sources';
import type { CampaignInfo } from './crm-classify';

const asRecord = (value: unknown): Record<string, unknown> | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;

const idText = (value: unknown): string | null =>
  typeof value === 'number' || (typeof value === 'string' && value !== '') ? String(value) : null;

const infoOf = (campaign: Pick<RaiseCampaignModel, 'id' | 'name' | 'canSync'>): CampaignInfo => ({
  id: idText(campaign.id),
  name: typeof campaign.name === 'string' ? campaign.name : null,
  canSync: typeof campaign.canSync === 'boolean' ? campaign.canSync : null,
});

/**
 * The campaign (and its canSync flag) of the gifts one run looks at, read from Raise at most once
 * per campaign per run. A gift may carry its campaign embedded (`campaign: {id, name, canSync}`),
 * by ID (`campaignId`) or, as the documented GiftModel does, only by `campaignName`: for names the
 * customer's campaigns are listed once (campaigns are few: hundreds, not millions) and indexed by
 * name. A name shared by campaigns that disagree on canSync stays undetermined (canSync null).
 */
export class CampaignDirectory {
  private readonly byId = new Map<string, Promise<CampaignInfo | null>>();
  private byName: Promise<Map<string, CampaignInfo>> | null = null;

  constructor(
    private readonly raise: RaiseClient,
    private readonly creds: RaiseCredentials,
    private readonly signal?: AbortSignal,
  ) {}

  async of(gift: RaiseGiftModel): Promise<CampaignInfo | null> {
    const embedded = asRecord(gift.campaign);
    if (embedded && typeof embedded.canSync === 'boolean') {
      return infoOf(embedded as unknown as RaiseCampaignModel);
    }
    const id = idText(gift.campaignId) ?? idText(embedded?.id);
    if (id !== null) {
      return this.campaignById(id);
    }
    const name = typeof gift.campaignName === 'string' ? gift.campaignName : null;
    if (name === null || name === '') {
      return null;
    }
    const index = await this.nameIndex();
    return index.get(name) ?? { id: null, name, canSync: null };
  }

  private campaignById(id: string): Promise<CampaignInfo | null> {
    let found = this.byId.get(id);
    if (!found) {
      found = this.raise
        .get(this.creds, 'campaign', id, this.signal)
        .then((campaign) => (campaign ? infoOf(campaign) : null));
      this.byId.set(id, found);
    }
    return found;
  }

  private nameIndex(): Promise<Map<string, CampaignInfo>> {
    this.byName ??= this.loadNames();
    return this.byName;
  }

  private async loadNames(): Promise<Map<string, CampaignInfo>> {
    const index = new Map<string, CampaignInfo>();
    const pages = this.raise.streamById(this.creds, 'campaign', {
      afterId: null,
      pageSize: 1000,
      signal: this.signal,
    });
    for await (const page of pages) {
      for (const campaign of page.items) {
        const info = infoOf(campaign);
        if (info.name === null) {
          continue;
        }
        const earlier = index.get(info.name);
        if (!earlier) {
          index.set(info.name, info);
        } else if (earlier.canSync !== info.canSync) {
          index.set(info.name, { id: null, name: info.name, canSync: null });
        }
      }
    }
    return index;
  }
}
