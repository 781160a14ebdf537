export { ALERTS, THRESHOLDS, RUNBOOK_BASE_URL, runbookAnchor, type AlertRule } from './alerts';
export { DASHBOARDS_DIR, renderArtifacts, type Artifact } from './artifacts';
export { DATASOURCE, DATASOURCE_UID } from './datasource';
export { RECORDED, RECORDING_GROUPS, type RecordingRule } from './recording-rules';
