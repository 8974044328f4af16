/** A SOC 2 criterion series, with our own id and short title (no AICPA control text). */
export interface Soc2Criterion {
  /** `CC1` … `CC9`, `A1`, `C1`, `PI1`, `P1` … `P8`. */
  readonly id: string;
  /** Our short title. */
  readonly title: string;
  /** The Trust Services Category: security (common criteria), availability, confidentiality, processing integrity, privacy. */
  readonly category: 'security' | 'availability' | 'confidentiality' | 'processing-integrity' | 'privacy';
}

const c = (id: string, title: string, category: Soc2Criterion['category']): Soc2Criterion =>
  Object.freeze({ id, title, category });

/**
 * The SOC 2 criterion series this package maps checks to: the common criteria
 * CC1–CC9 and the additional categories A1, C1, PI1 and P1–P8. Titles are our
 * own summaries, not the AICPA's text.
 *
 * @example
 * ```ts
 * SOC2_CRITERIA.find((x) => x.id === 'CC6')?.title; // 'Logical and physical access'
 * ```
 */
export const SOC2_CRITERIA: readonly Soc2Criterion[] = Object.freeze([
  c('CC1', 'Control environment and integrity', 'security'),
  c('CC2', 'Information and communication', 'security'),
  c('CC3', 'Risk assessment', 'security'),
  c('CC4', 'Monitoring of controls', 'security'),
  c('CC5', 'Control activities and policies', 'security'),
  c('CC6', 'Logical and physical access', 'security'),
  c('CC7', 'System operations, detection and incident handling', 'security'),
  c('CC8', 'Change management', 'security'),
  c('CC9', 'Risk mitigation and vendors', 'security'),
  c('A1', 'Availability, capacity and recovery', 'availability'),
  c('C1', 'Confidential information handling', 'confidentiality'),
  c('PI1', 'Processing integrity', 'processing-integrity'),
  c('P1', 'Privacy notice', 'privacy'),
  c('P2', 'Choice and consent', 'privacy'),
  c('P3', 'Collection of personal information', 'privacy'),
  c('P4', 'Use, retention and disposal', 'privacy'),
  c('P5', 'Data-subject access', 'privacy'),
  c('P6', 'Disclosure and breach notification', 'privacy'),
  c('P7', 'Quality and correction', 'privacy'),
  c('P8', 'Privacy monitoring and complaints', 'privacy'),
]);
