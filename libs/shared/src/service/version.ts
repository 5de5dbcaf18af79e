/** The version every service reports (logs, `raise_sync_service_info`). */
export const SERVICE_VERSION = '0.1.0';
