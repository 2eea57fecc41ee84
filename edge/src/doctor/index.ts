// `tidemark-edge doctor`: field checks of a gateway against its config.
export { runDoctor, type DoctorOptions } from './doctor.js';
export { doctorExitCode, formatDoctorReport, summarize, type CheckStatus, type DoctorCheck, type DoctorReport, type FormatOptions } from './report.js';
export type { AuthCheckMode } from './broker-check.js';
