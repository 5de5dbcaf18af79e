import { describeServiceLifecycle } from '@raise-sync/testing';

describeServiceLifecycle('backfiller');
