/** The four themes of ISO/IEC 27001:2022 Annex A. */
export type Iso27001Theme = 'organizational' | 'people' | 'physical' | 'technological';

/** An ISO/IEC 27001:2022 Annex A control: its number and name (no control text). */
export interface Iso27001Control {
  /** The control number, e.g. `8.5`. */
  readonly id: string;
  readonly theme: Iso27001Theme;
  /** The control's name. */
  readonly title: string;
  /**
   * The ISO/IEC 27001:2013 family (A.5 … A.18) the control mostly came from,
   * or `null` for controls new in 2022. A family-level legacy mapping only.
   */
  readonly legacy2013: string | null;
}

const x = (id: string, theme: Iso27001Theme, title: string, legacy2013: string | null): Iso27001Control =>
  Object.freeze({ id, theme, title, legacy2013 });

/**
 * The 93 controls of ISO/IEC 27001:2022 Annex A in four themes: 5
 * Organizational (37), 6 People (8), 7 Physical (14), 8 Technological (34).
 *
 * @example
 * ```ts
 * ISO27001_2022_CONTROLS.filter((c) => c.theme === 'people').length; // 8
 * ```
 */
export const ISO27001_2022_CONTROLS: readonly Iso27001Control[] = Object.freeze([
  x('5.1', 'organizational', 'Policies for information security', 'A.5'),
  x('5.2', 'organizational', 'Information security roles and responsibilities', 'A.6'),
  x('5.3', 'organizational', 'Segregation of duties', 'A.6'),
  x('5.4', 'organizational', 'Management responsibilities', 'A.7'),
  x('5.5', 'organizational', 'Contact with authorities', 'A.6'),
  x('5.6', 'organizational', 'Contact with special interest groups', 'A.6'),
  x('5.7', 'organizational', 'Threat intelligence', null),
  x('5.8', 'organizational', 'Information security in project management', 'A.6'),
  x('5.9', 'organizational', 'Inventory of information and other associated assets', 'A.8'),
  x('5.10', 'organizational', 'Acceptable use of information and other associated assets', 'A.8'),
  x('5.11', 'organizational', 'Return of assets', 'A.8'),
  x('5.12', 'organizational', 'Classification of information', 'A.8'),
  x('5.13', 'organizational', 'Labelling of information', 'A.8'),
  x('5.14', 'organizational', 'Information transfer', 'A.13'),
  x('5.15', 'organizational', 'Access control', 'A.9'),
  x('5.16', 'organizational', 'Identity management', 'A.9'),
  x('5.17', 'organizational', 'Authentication information', 'A.9'),
  x('5.18', 'organizational', 'Access rights', 'A.9'),
  x('5.19', 'organizational', 'Information security in supplier relationships', 'A.15'),
  x('5.20', 'organizational', 'Addressing information security within supplier agreements', 'A.15'),
  x('5.21', 'organizational', 'Managing information security in the ICT supply chain', 'A.15'),
  x('5.22', 'organizational', 'Monitoring, review and change management of supplier services', 'A.15'),
  x('5.23', 'organizational', 'Information security for use of cloud services', null),
  x('5.24', 'organizational', 'Information security incident management planning and preparation', 'A.16'),
  x('5.25', 'organizational', 'Assessment and decision on information security events', 'A.16'),
  x('5.26', 'organizational', 'Response to information security incidents', 'A.16'),
  x('5.27', 'organizational', 'Learning from information security incidents', 'A.16'),
  x('5.28', 'organizational', 'Collection of evidence', 'A.16'),
  x('5.29', 'organizational', 'Information security during disruption', 'A.17'),
  x('5.30', 'organizational', 'ICT readiness for business continuity', null),
  x('5.31', 'organizational', 'Legal, statutory, regulatory and contractual requirements', 'A.18'),
  x('5.32', 'organizational', 'Intellectual property rights', 'A.18'),
  x('5.33', 'organizational', 'Protection of records', 'A.18'),
  x('5.34', 'organizational', 'Privacy and protection of PII', 'A.18'),
  x('5.35', 'organizational', 'Independent review of information security', 'A.18'),
  x('5.36', 'organizational', 'Compliance with policies, rules and standards for information security', 'A.18'),
  x('5.37', 'organizational', 'Documented operating procedures', 'A.12'),
  x('6.1', 'people', 'Screening', 'A.7'),
  x('6.2', 'people', 'Terms and conditions of employment', 'A.7'),
  x('6.3', 'people', 'Information security awareness, education and training', 'A.7'),
  x('6.4', 'people', 'Disciplinary process', 'A.7'),
  x('6.5', 'people', 'Responsibilities after termination or change of employment', 'A.7'),
  x('6.6', 'people', 'Confidentiality or non-disclosure agreements', 'A.13'),
  x('6.7', 'people', 'Remote working', 'A.6'),
  x('6.8', 'people', 'Information security event reporting', 'A.16'),
  x('7.1', 'physical', 'Physical security perimeters', 'A.11'),
  x('7.2', 'physical', 'Physical entry', 'A.11'),
  x('7.3', 'physical', 'Securing offices, rooms and facilities', 'A.11'),
  x('7.4', 'physical', 'Physical security monitoring', null),
  x('7.5', 'physical', 'Protecting against physical and environmental threats', 'A.11'),
  x('7.6', 'physical', 'Working in secure areas', 'A.11'),
  x('7.7', 'physical', 'Clear desk and clear screen', 'A.11'),
  x('7.8', 'physical', 'Equipment siting and protection', 'A.11'),
  x('7.9', 'physical', 'Security of assets off-premises', 'A.11'),
  x('7.10', 'physical', 'Storage media', 'A.8'),
  x('7.11', 'physical', 'Supporting utilities', 'A.11'),
  x('7.12', 'physical', 'Cabling security', 'A.11'),
  x('7.13', 'physical', 'Equipment maintenance', 'A.11'),
  x('7.14', 'physical', 'Secure disposal or re-use of equipment', 'A.11'),
  x('8.1', 'technological', 'User endpoint devices', 'A.6'),
  x('8.2', 'technological', 'Privileged access rights', 'A.9'),
  x('8.3', 'technological', 'Information access restriction', 'A.9'),
  x('8.4', 'technological', 'Access to source code', 'A.9'),
  x('8.5', 'technological', 'Secure authentication', 'A.9'),
  x('8.6', 'technological', 'Capacity management', 'A.12'),
  x('8.7', 'technological', 'Protection against malware', 'A.12'),
  x('8.8', 'technological', 'Management of technical vulnerabilities', 'A.12'),
  x('8.9', 'technological', 'Configuration management', null),
  x('8.10', 'technological', 'Information deletion', null),
  x('8.11', 'technological', 'Data masking', null),
  x('8.12', 'technological', 'Data leakage prevention', null),
  x('8.13', 'technological', 'Information backup', 'A.12'),
  x('8.14', 'technological', 'Redundancy of information processing facilities', 'A.17'),
  x('8.15', 'technological', 'Logging', 'A.12'),
  x('8.16', 'technological', 'Monitoring activities', null),
  x('8.17', 'technological', 'Clock synchronization', 'A.12'),
  x('8.18', 'technological', 'Use of privileged utility programs', 'A.9'),
  x('8.19', 'technological', 'Installation of software on operational systems', 'A.12'),
  x('8.20', 'technological', 'Networks security', 'A.13'),
  x('8.21', 'technological', 'Security of network services', 'A.13'),
  x('8.22', 'technological', 'Segregation of networks', 'A.13'),
  x('8.23', 'technological', 'Web filtering', null),
  x('8.24', 'technological', 'Use of cryptography', 'A.10'),
  x('8.25', 'technological', 'Secure development life cycle', 'A.14'),
  x('8.26', 'technological', 'Application security requirements', 'A.14'),
  x('8.27', 'technological', 'Secure system architecture and engineering principles', 'A.14'),
  x('8.28', 'technological', 'Secure coding', null),
  x('8.29', 'technological', 'Security testing in development and acceptance', 'A.14'),
  x('8.30', 'technological', 'Outsourced development', 'A.14'),
  x('8.31', 'technological', 'Separation of development, test and production environments', 'A.12'),
  x('8.32', 'technological', 'Change management', 'A.12'),
  x('8.33', 'technological', 'Test information', 'A.14'),
  x('8.34', 'technological', 'Protection of information systems during audit testing', 'A.12'),
]);

/** An ISO/IEC 27001:2013 Annex A family. */
export interface Iso27001LegacyFamily {
  /** `A.5` … `A.18`. */
  readonly id: string;
  readonly title: string;
}

/**
 * The 14 control families of ISO/IEC 27001:2013 Annex A (A.5 – A.18), for
 * organisations still certified against the 2013 edition.
 */
export const ISO27001_2013_FAMILIES: readonly Iso27001LegacyFamily[] = Object.freeze(
  (
    [
      ['A.5', 'Information security policies'],
      ['A.6', 'Organization of information security'],
      ['A.7', 'Human resource security'],
      ['A.8', 'Asset management'],
      ['A.9', 'Access control'],
      ['A.10', 'Cryptography'],
      ['A.11', 'Physical and environmental security'],
      ['A.12', 'Operations security'],
      ['A.13', 'Communications security'],
      ['A.14', 'System acquisition, development and maintenance'],
      ['A.15', 'Supplier relationships'],
      ['A.16', 'Information security incident management'],
      ['A.17', 'Information security aspects of business continuity management'],
      ['A.18', 'Compliance'],
    ] as const
  ).map(([id, title]) => Object.freeze({ id, title })),
);

/** The theme names by clause number. */
export const ISO27001_THEMES: Readonly<Record<Iso27001Theme, { readonly clause: number; readonly title: string }>> =
  Object.freeze({
    organizational: { clause: 5, title: 'Organizational controls' },
    people: { clause: 6, title: 'People controls' },
    physical: { clause: 7, title: 'Physical controls' },
    technological: { clause: 8, title: 'Technological controls' },
  });
