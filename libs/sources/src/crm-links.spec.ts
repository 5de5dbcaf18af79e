import { crmLinks } from './crm-links';

describe('crmLinks', () => {
  it('flattens crmKeyUrls into links and ignores junk', () => {
    expect(
      crmLinks({
        CRMPlus: { url: 'https://app.example/Contact/View/7', name: 'Virtuous CRM+' },
        Other: { url: '' },
        Broken: null,
      }),
    ).toEqual([
      { integration: 'CRMPlus', url: 'https://app.example/Contact/View/7', name: 'Virtuous CRM+' },
    ]);
    expect(crmLinks(null)).toEqual([]);
    expect(crmLinks([{ url: 'x' }])).toEqual([]);
  });
});
