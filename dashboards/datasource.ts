import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

/** Every panel and variable points at this uid; provisioning/datasources/strangler-fig.yml creates it. */
export const DATASOURCE_UID = 'strangler-prometheus';

export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: DATASOURCE_UID };
