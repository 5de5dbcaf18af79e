/**
 * The VOMO (Volunteer) users API on the wire (../shared/reference/source-apis.md section 4).
 * Base URL `https://api.vomo.org/v1`; bearer token per organization; Laravel-style paging with a
 * platform-controlled page size (15 typical).
 */
export interface VomoUserResource {
  type: 'user';
  id: number | string;
  first_name: string | null;
  last_name: string | null;
  full_name: string | null;
  email: string | null;
  phone: string | null;
  address?: string | null;
  birthday?: string | null;
  gender?: 'M' | 'F' | 'N' | null;
  user_status: string | null;
  membership_status: string | null;
  membership_role: string | null;
  /** ISO 8601 with offset. */
  created_at: string;
  updated_at: string;
}

export interface VomoPage<T> {
  data: T[];
  links: { first: string | null; last: string | null; prev: string | null; next: string | null };
  meta: {
    current_page: number;
    from: number | null;
    to: number | null;
    path: string;
    per_page: number;
    total: number;
    last_page?: number;
  };
}

/** `GET /users` filters (all optional, ANDed). */
export interface VomoUserFilters {
  name_like?: string;
  email_like?: string;
  created_before?: string;
  created_after?: string;
  updated_before?: string;
  /** Strictly after, ISO 8601. */
  updated_after?: string;
  page?: number;
}

export const VOMO_PAGE_SIZE = 15;
