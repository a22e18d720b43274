// German first, English too: every string of the UI, dates and times in Europe/Berlin.

const LANG_KEY = 'itsm.lang';
const TIME_ZONE = 'Europe/Berlin';

const MESSAGES = {
  de: {
    skip_to_content: 'Zum Inhalt springen',
    language: 'Sprache',
    signed_in_as: 'Angemeldet als',
    logout: 'Abmelden',
    close: 'Schließen',
    yes: 'ja',
    'live.on': 'Live',
    'live.off': 'Offline',
    'nav.label': 'Hauptnavigation',
    'nav.dashboard': 'Übersicht',
    'nav.worklist': 'Arbeitsliste',
    'nav.portal': 'Service-Portal',
    'nav.my_tickets': 'Meine Anliegen',
    'nav.assets': 'Assets',
    'error.title': 'Fehler',
    'error.unexpected': 'Ein unerwarteter Fehler ist aufgetreten. Bitte versuchen Sie es erneut.',
    'error.network': 'Der Server ist nicht erreichbar. Bitte prüfen Sie die Verbindung.',
    'error.forbidden_title': 'Kein Zugriff',
    'error.forbidden': 'Dafür fehlt Ihnen die Berechtigung.',
    'error.logout_failed': 'Die Abmeldung hat nicht geklappt; Sie sind noch angemeldet. Bitte versuchen Sie es erneut.',
    'error.changed_meanwhile':
      'Das Ticket wurde inzwischen geändert. Die aktuelle Fassung ist geladen; Ihre Eingabe ist erhalten – bitte prüfen und erneut senden.',
    'login.title': 'Anmelden',
    'login.intro': 'Melden Sie sich mit Ihrem Benutzernamen und Passwort an.',
    'login.user': 'Benutzername',
    'login.password': 'Passwort',
    'login.submit': 'Anmelden',
    'login.failed': 'Benutzername oder Passwort ist falsch.',
    'col.number': 'Nummer',
    'col.title': 'Betreff',
    'col.priority': 'Priorität',
    'col.status': 'Status',
    'col.queue': 'Queue',
    'col.assignee': 'Bearbeiter',
    'col.sla': 'SLA',
    'col.opened': 'Erstellt',
    'col.updated': 'Geändert',
    'col.total': 'Gesamt',
    'tickets.none': 'Keine Tickets.',
    'dashboard.title': 'Übersicht',
    'dashboard.queues': 'Meine Queues',
    'dashboard.sla': 'SLA in Gefahr',
    'dashboard.sla_warning': 'Bald fällig',
    'dashboard.sla_breached': 'Überschritten',
    'dashboard.mine': 'Mir zugewiesen',
    'worklist.title': 'Arbeitsliste',
    'worklist.filters': 'Filter',
    'worklist.search': 'Suche',
    'worklist.all_queues': 'Alle Queues',
    'worklist.anyone': 'Alle',
    'worklist.me': 'Ich',
    'worklist.nobody': 'Niemand',
    'worklist.any_sla': 'Alle',
    'worklist.sort': 'Sortierung',
    'worklist.apply': 'Anwenden',
    'worklist.page': 'Seite {page}',
    'worklist.results_for': 'Treffer für „{q}“',
    'worklist.previous': 'Vorherige Seite',
    'worklist.next': 'Nächste Seite',
    'ticket.details': 'Angaben',
    'ticket.type': 'Art',
    'ticket.impact': 'Auswirkung',
    'ticket.urgency': 'Dringlichkeit',
    'ticket.unassigned': 'nicht zugewiesen',
    'ticket.requester': 'Melder',
    'ticket.service': 'Service',
    'ticket.category': 'Kategorie',
    'ticket.pending': 'Wartet',
    'ticket.resolution': 'Lösung',
    'ticket.tags': 'Schlagwörter',
    'ticket.description': 'Beschreibung',
    'ticket.articles': 'Kommunikation',
    'ticket.no_articles': 'Noch keine Nachrichten.',
    'ticket.timeline': 'Verlauf',
    'ticket.more_history': 'Ältere Einträge laden',
    'ticket.links': 'Verknüpfungen',
    'ticket.linked_assets': 'Assets',
    'ticket.linked_tickets': 'Tickets',
    'ticket.none': 'Keine.',
    'ticket.actions': 'Aktionen',
    'ticket.no_actions': 'Keine Aktion möglich.',
    'ticket.updated_elsewhere': 'Jemand anderes hat dieses Ticket gerade geändert.',
    'ticket.reload': 'Neu laden',
    'action.take': 'Übernehmen',
    'action.done': '{action}: erledigt.',
    'action.assignee': 'Bearbeiter (Benutzername)',
    'action.pending_reason': 'Grund',
    'action.pending_until': 'Voraussichtlich bis',
    'action.resolution_code': 'Lösungscode',
    'action.resolution_text': 'Was wurde getan?',
    'action.reason': 'Begründung',
    'action.merge_into': 'Zusammenführen in Ticket (Nummer)',
    'action.body': 'Text',
    'action.fields': 'Zusatzfelder (JSON)',
    'action.fields_help': 'Schlüssel und Werte, z. B. {"raum": "2.041"}.',
    'action.fields_invalid': 'Die Zusatzfelder sind kein gültiges JSON.',
    'action.tags_help': 'Durch Kommas getrennt.',
    'action.link_type': 'Art der Verknüpfung',
    'action.target_ticket': 'Ticket (Nummer)',
    'action.link': 'Verknüpfung',
    'action.asset': 'Asset',
    'action.asset_help': 'Name, Inventarnummer oder ID.',
    'action.asset_not_unique': 'Kein eindeutiges Asset gefunden.',
    'sla.title': 'SLA',
    'sla.none': 'Kein SLA',
    'sla.due': 'fällig',
    'sla.left': 'noch {time}',
    'sla.over': '{time} drüber',
    'sla.target': 'Ziel',
    'sla.elapsed': 'Verbraucht',
    'sla.remaining': 'Verbleibend (Servicezeit)',
    'sla.policy': 'Vereinbarung',
    'sla.explain': 'Wie wurde das berechnet?',
    'sla.now': 'jetzt',
    'sla.segment_running': 'läuft',
    'sla.segment_paused': 'pausiert',
    'sla.calendar': 'Kalender',
    'sla.threshold': 'Warnschwelle {percent} %:',
    'sla.not_reached': 'nicht erreicht',
    'portal.title': 'Wie können wir helfen?',
    'portal.intro': 'Melden Sie eine Störung oder wählen Sie eine Leistung aus dem Servicekatalog.',
    'portal.report': 'Problem melden',
    'portal.catalog': 'Servicekatalog',
    'portal.empty_catalog': 'Der Servicekatalog ist noch leer.',
    'portal.my_tickets_link': 'Meine Anliegen ansehen',
    'portal.required': 'Pflichtfeld',
    'portal.required_note': 'Felder mit „Pflichtfeld“ müssen ausgefüllt werden.',
    'portal.subject': 'Betreff',
    'portal.subject_help': 'Kurz, z. B. „Drucker im 2. OG druckt nicht“.',
    'portal.subject_missing': 'Bitte geben Sie einen Betreff an.',
    'portal.description': 'Beschreibung',
    'portal.description_help': 'Was ist passiert, seit wann, was haben Sie schon versucht?',
    'portal.urgency': 'Wie dringend ist es?',
    'portal.urgency_help': 'Hoch: Sie können gerade nicht arbeiten.',
    'portal.choose': 'Bitte wählen',
    'portal.submit': 'Absenden',
    'portal.thanks': 'Vielen Dank',
    'portal.confirmation': 'Ihr Anliegen wurde unter der Nummer {number} erfasst.',
    'portal.follow': 'Anliegen {number} verfolgen',
    'portal.back': 'Zurück zum Portal',
    'portal.my_tickets': 'Meine Anliegen',
    'portal.conversation': 'Nachrichten',
    'portal.no_messages': 'Noch keine Nachrichten.',
    'portal.from_service_desk': 'Service-Desk',
    'portal.from_you': 'Sie',
    'portal.reply': 'Antworten',
    'portal.your_message': 'Ihre Nachricht',
    'portal.send': 'Senden',
    'portal.sent': 'Ihre Nachricht wurde gesendet.',
    'portal.message_missing': 'Bitte schreiben Sie eine Nachricht.',
    'assets.title': 'Assets',
    'assets.filters': 'Asset-Filter',
    'assets.search': 'Suche',
    'assets.class': 'Klasse',
    'assets.all_classes': 'Alle Klassen',
    'assets.lifecycle': 'Lebenszyklus',
    'assets.all_lifecycles': 'Alle',
    'assets.name': 'Name',
    'assets.inventory_number': 'Inventarnummer',
    'assets.serial_number': 'Seriennummer',
    'assets.location': 'Standort',
    'assets.user': 'Nutzer',
    'assets.owner': 'Verantwortlich',
    'assets.cost_centre': 'Kostenstelle',
    'assets.missing': 'Vermisst',
    'assets.incident_state': 'Störungslage',
    'assets.none': 'Keine Assets.',
    'assets.relations': 'Beziehungen',
    'assets.outgoing': 'Von diesem Asset',
    'assets.incoming': 'Zu diesem Asset',
    'assets.since': 'seit',
    'assets.tickets': 'Tickets',
    'assets.sources': 'Quellen',
    'assets.last_seen': 'zuletzt gesehen',
    'keys.title': 'Tastenkürzel',
    'keys.help': 'Diese Hilfe',
    'keys.search': 'Suche',
    'keys.rows': 'Nächste / vorige Zeile',
    'keys.open': 'Ticket öffnen',
    'keys.enabled': 'Einzeltasten-Kürzel aktiv',
  },
  en: {
    skip_to_content: 'Skip to content',
    language: 'Language',
    signed_in_as: 'Signed in as',
    logout: 'Sign out',
    close: 'Close',
    yes: 'yes',
    'live.on': 'Live',
    'live.off': 'Offline',
    'nav.label': 'Main navigation',
    'nav.dashboard': 'Dashboard',
    'nav.worklist': 'Worklist',
    'nav.portal': 'Service portal',
    'nav.my_tickets': 'My requests',
    'nav.assets': 'Assets',
    'error.title': 'Error',
    'error.unexpected': 'Something unexpected went wrong. Please try again.',
    'error.network': 'The server cannot be reached. Please check the connection.',
    'error.forbidden_title': 'No access',
    'error.forbidden': 'You do not have the right to do this.',
    'error.logout_failed': 'Signing out did not work; you are still signed in. Please try again.',
    'error.changed_meanwhile':
      'The ticket was changed meanwhile. The current version is loaded and your input is kept – please check it and send it again.',
    'login.title': 'Sign in',
    'login.intro': 'Sign in with your user name and password.',
    'login.user': 'User name',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.failed': 'User name or password is wrong.',
    'col.number': 'Number',
    'col.title': 'Subject',
    'col.priority': 'Priority',
    'col.status': 'Status',
    'col.queue': 'Queue',
    'col.assignee': 'Assignee',
    'col.sla': 'SLA',
    'col.opened': 'Opened',
    'col.updated': 'Updated',
    'col.total': 'Total',
    'tickets.none': 'No tickets.',
    'dashboard.title': 'Dashboard',
    'dashboard.queues': 'My queues',
    'dashboard.sla': 'SLA at risk',
    'dashboard.sla_warning': 'Due soon',
    'dashboard.sla_breached': 'Breached',
    'dashboard.mine': 'Assigned to me',
    'worklist.title': 'Worklist',
    'worklist.filters': 'Filters',
    'worklist.search': 'Search',
    'worklist.all_queues': 'All queues',
    'worklist.anyone': 'Anyone',
    'worklist.me': 'Me',
    'worklist.nobody': 'Nobody',
    'worklist.any_sla': 'Any',
    'worklist.sort': 'Sort by',
    'worklist.apply': 'Apply',
    'worklist.page': 'Page {page}',
    'worklist.results_for': 'Results for “{q}”',
    'worklist.previous': 'Previous page',
    'worklist.next': 'Next page',
    'ticket.details': 'Details',
    'ticket.type': 'Type',
    'ticket.impact': 'Impact',
    'ticket.urgency': 'Urgency',
    'ticket.unassigned': 'unassigned',
    'ticket.requester': 'Requester',
    'ticket.service': 'Service',
    'ticket.category': 'Category',
    'ticket.pending': 'Waiting',
    'ticket.resolution': 'Resolution',
    'ticket.tags': 'Tags',
    'ticket.description': 'Description',
    'ticket.articles': 'Communication',
    'ticket.no_articles': 'No messages yet.',
    'ticket.timeline': 'History',
    'ticket.more_history': 'Load older entries',
    'ticket.links': 'Links',
    'ticket.linked_assets': 'Assets',
    'ticket.linked_tickets': 'Tickets',
    'ticket.none': 'None.',
    'ticket.actions': 'Actions',
    'ticket.no_actions': 'No action possible.',
    'ticket.updated_elsewhere': 'Someone else just changed this ticket.',
    'ticket.reload': 'Reload',
    'action.take': 'Take',
    'action.done': '{action}: done.',
    'action.assignee': 'Assignee (user name)',
    'action.pending_reason': 'Reason',
    'action.pending_until': 'Expected until',
    'action.resolution_code': 'Resolution code',
    'action.resolution_text': 'What was done?',
    'action.reason': 'Reason',
    'action.merge_into': 'Merge into ticket (number)',
    'action.body': 'Text',
    'action.fields': 'Additional fields (JSON)',
    'action.fields_help': 'Keys and values, e.g. {"room": "2.041"}.',
    'action.fields_invalid': 'The additional fields are not valid JSON.',
    'action.tags_help': 'Separated by commas.',
    'action.link_type': 'Kind of link',
    'action.target_ticket': 'Ticket (number)',
    'action.link': 'Link',
    'action.asset': 'Asset',
    'action.asset_help': 'Name, inventory number or id.',
    'action.asset_not_unique': 'No unique asset found.',
    'sla.title': 'SLA',
    'sla.none': 'No SLA',
    'sla.due': 'due',
    'sla.left': '{time} left',
    'sla.over': '{time} over',
    'sla.target': 'Target',
    'sla.elapsed': 'Used',
    'sla.remaining': 'Remaining (service hours)',
    'sla.policy': 'Agreement',
    'sla.explain': 'How was this computed?',
    'sla.now': 'now',
    'sla.segment_running': 'running',
    'sla.segment_paused': 'paused',
    'sla.calendar': 'calendar',
    'sla.threshold': 'Warning threshold {percent} %:',
    'sla.not_reached': 'not reached',
    'portal.title': 'How can we help?',
    'portal.intro': 'Report a fault or choose a service from the catalog.',
    'portal.report': 'Report a problem',
    'portal.catalog': 'Service catalog',
    'portal.empty_catalog': 'The service catalog is still empty.',
    'portal.my_tickets_link': 'See my requests',
    'portal.required': 'required',
    'portal.required_note': 'Fields marked “required” must be filled in.',
    'portal.subject': 'Subject',
    'portal.subject_help': 'Short, e.g. “Printer on the 2nd floor does not print”.',
    'portal.subject_missing': 'Please enter a subject.',
    'portal.description': 'Description',
    'portal.description_help': 'What happened, since when, what have you tried?',
    'portal.urgency': 'How urgent is it?',
    'portal.urgency_help': 'High: you cannot work right now.',
    'portal.choose': 'Please choose',
    'portal.submit': 'Submit',
    'portal.thanks': 'Thank you',
    'portal.confirmation': 'Your request has been recorded as number {number}.',
    'portal.follow': 'Follow request {number}',
    'portal.back': 'Back to the portal',
    'portal.my_tickets': 'My requests',
    'portal.conversation': 'Messages',
    'portal.no_messages': 'No messages yet.',
    'portal.from_service_desk': 'Service desk',
    'portal.from_you': 'You',
    'portal.reply': 'Reply',
    'portal.your_message': 'Your message',
    'portal.send': 'Send',
    'portal.sent': 'Your message has been sent.',
    'portal.message_missing': 'Please write a message.',
    'assets.title': 'Assets',
    'assets.filters': 'Asset filters',
    'assets.search': 'Search',
    'assets.class': 'Class',
    'assets.all_classes': 'All classes',
    'assets.lifecycle': 'Lifecycle',
    'assets.all_lifecycles': 'All',
    'assets.name': 'Name',
    'assets.inventory_number': 'Inventory number',
    'assets.serial_number': 'Serial number',
    'assets.location': 'Location',
    'assets.user': 'User',
    'assets.owner': 'Owner',
    'assets.cost_centre': 'Cost centre',
    'assets.missing': 'Missing',
    'assets.incident_state': 'Incident state',
    'assets.none': 'No assets.',
    'assets.relations': 'Relations',
    'assets.outgoing': 'From this asset',
    'assets.incoming': 'To this asset',
    'assets.since': 'since',
    'assets.tickets': 'Tickets',
    'assets.sources': 'Sources',
    'assets.last_seen': 'last seen',
    'keys.title': 'Keyboard shortcuts',
    'keys.help': 'This help',
    'keys.search': 'Search',
    'keys.rows': 'Next / previous row',
    'keys.open': 'Open ticket',
    'keys.enabled': 'Single-key shortcuts on',
  },
};

/** Names of values (statuses, priorities, …) by kind. */
const LABELS = {
  de: {
    status: { new: 'Neu', assigned: 'Zugewiesen', in_progress: 'In Bearbeitung', pending: 'Wartend', resolved: 'Gelöst', closed: 'Geschlossen', cancelled: 'Storniert', merged: 'Zusammengeführt' },
    status_filter: { open: 'Offen', new: 'Neu', assigned: 'Zugewiesen', in_progress: 'In Bearbeitung', pending: 'Wartend', resolved: 'Gelöst', closed: 'Geschlossen', all: 'Alle' },
    priority: { critical: 'Kritisch', high: 'Hoch', medium: 'Mittel', low: 'Niedrig', very_low: 'Sehr niedrig' },
    level: { critical: 'kritisch', high: 'hoch', medium: 'mittel', low: 'niedrig' },
    urgency: { critical: 'Sehr dringend – viele können nicht arbeiten', high: 'Hoch – ich kann nicht arbeiten', medium: 'Mittel – ich bin eingeschränkt', low: 'Niedrig – es hat Zeit' },
    sla: { running: 'Läuft', warning: 'Warnung', breached: 'Überschritten', paused: 'Pausiert', met: 'Eingehalten', stopped: 'Gestoppt' },
    sort: { priority: 'Priorität', due: 'Fälligkeit', age: 'Älteste zuerst', '-age': 'Neueste zuerst', updated: 'Zuletzt geändert' },
    type: { incident: 'Störung', service_request: 'Serviceanfrage', problem: 'Problem', change: 'Change' },
    pending: { waiting_for_requester: 'Wartet auf Melder', waiting_for_third_party: 'Wartet auf Dritte', waiting_for_change: 'Wartet auf Change' },
    link: { relates_to: 'Steht in Bezug zu', duplicate_of: 'Duplikat von', parent_of: 'Übergeordnet zu', child_of: 'Untergeordnet zu', caused_by: 'Verursacht durch' },
    resolution: { solved: 'Gelöst', workaround: 'Umgehungslösung', no_fault_found: 'Kein Fehler gefunden', duplicate: 'Duplikat', not_reproducible: 'Nicht nachvollziehbar' },
    metric: { first_response: 'Erste Reaktion', resolution: 'Lösung' },
    article: { public_reply: 'Antwort', internal_note: 'Interne Notiz', requester_message: 'Nachricht des Melders' },
    action: {
      assign: 'Zuweisen', start_work: 'Bearbeitung beginnen', set_pending: 'Auf Wartend setzen', resolve: 'Lösen', reopen: 'Wieder öffnen', close: 'Schließen',
      cancel: 'Stornieren', merge: 'Zusammenführen', add_reply: 'Antworten', add_note: 'Interne Notiz', add_requester_message: 'Nachricht des Melders erfassen',
      set_priority: 'Priorität ändern', set_fields: 'Zusatzfelder bearbeiten', set_tags: 'Schlagwörter', link: 'Ticket verknüpfen', unlink: 'Verknüpfung lösen',
      link_asset: 'Asset verknüpfen', unlink_asset: 'Asset lösen',
    },
    lifecycle: { planned: 'Geplant', ordered: 'Bestellt', in_stock: 'Im Lager', deployed: 'Im Einsatz', in_repair: 'In Reparatur', retired: 'Ausgemustert', disposed: 'Entsorgt' },
    relation: { runs_on: 'läuft auf', connected_to: 'verbunden mit', installed_on: 'installiert auf', depends_on: 'hängt ab von', uses_licence: 'nutzt Lizenz', located_in: 'steht in' },
    incident: { affected: 'Betroffen', operational: 'In Betrieb' },
    asset: { missing: 'Vermisst' },
  },
  en: {
    status: { new: 'New', assigned: 'Assigned', in_progress: 'In progress', pending: 'Pending', resolved: 'Resolved', closed: 'Closed', cancelled: 'Cancelled', merged: 'Merged' },
    status_filter: { open: 'Open', new: 'New', assigned: 'Assigned', in_progress: 'In progress', pending: 'Pending', resolved: 'Resolved', closed: 'Closed', all: 'All' },
    priority: { critical: 'Critical', high: 'High', medium: 'Medium', low: 'Low', very_low: 'Very low' },
    level: { critical: 'critical', high: 'high', medium: 'medium', low: 'low' },
    urgency: { critical: 'Very urgent – many people cannot work', high: 'High – I cannot work', medium: 'Medium – I am hindered', low: 'Low – it can wait' },
    sla: { running: 'Running', warning: 'Warning', breached: 'Breached', paused: 'Paused', met: 'Met', stopped: 'Stopped' },
    sort: { priority: 'Priority', due: 'Due time', age: 'Oldest first', '-age': 'Newest first', updated: 'Recently changed' },
    type: { incident: 'Incident', service_request: 'Service request', problem: 'Problem', change: 'Change' },
    pending: { waiting_for_requester: 'Waiting for requester', waiting_for_third_party: 'Waiting for third party', waiting_for_change: 'Waiting for change' },
    link: { relates_to: 'Relates to', duplicate_of: 'Duplicate of', parent_of: 'Parent of', child_of: 'Child of', caused_by: 'Caused by' },
    resolution: { solved: 'Solved', workaround: 'Workaround', no_fault_found: 'No fault found', duplicate: 'Duplicate', not_reproducible: 'Not reproducible' },
    metric: { first_response: 'First response', resolution: 'Resolution' },
    article: { public_reply: 'Reply', internal_note: 'Internal note', requester_message: 'Requester message' },
    action: {
      assign: 'Assign', start_work: 'Start work', set_pending: 'Set pending', resolve: 'Resolve', reopen: 'Reopen', close: 'Close',
      cancel: 'Cancel ticket', merge: 'Merge', add_reply: 'Reply', add_note: 'Internal note', add_requester_message: 'Record requester message',
      set_priority: 'Change priority', set_fields: 'Edit additional fields', set_tags: 'Tags', link: 'Link ticket', unlink: 'Remove link',
      link_asset: 'Link asset', unlink_asset: 'Unlink asset',
    },
    lifecycle: { planned: 'Planned', ordered: 'Ordered', in_stock: 'In stock', deployed: 'Deployed', in_repair: 'In repair', retired: 'Retired', disposed: 'Disposed' },
    relation: { runs_on: 'runs on', connected_to: 'connected to', installed_on: 'installed on', depends_on: 'depends on', uses_licence: 'uses licence', located_in: 'located in' },
    incident: { affected: 'Affected', operational: 'Operational' },
    asset: { missing: 'Missing' },
  },
};

const missing = new Set();

/** The language chosen: German unless English was picked. */
export function lang() {
  return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'de';
}

export function setLang(value) {
  localStorage.setItem(LANG_KEY, value === 'en' ? 'en' : 'de');
}

/** The message `key` with `{name}` placeholders filled in (as text). */
export function t(key, values = {}) {
  const text = MESSAGES[lang()][key];
  if (text === undefined) {
    missing.add(`${lang()}:${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** The name of `value` of `kind` (a status, a priority, …); the value itself if unknown. */
export function label(kind, value) {
  const names = LABELS[lang()][kind];
  if (!names) {
    missing.add(`${lang()}:label.${kind}`);
    return value;
  }
  if (names[value] === undefined) {
    missing.add(`${lang()}:label.${kind}.${value}`);
    return value;
  }
  return names[value];
}

/** The name of `value` of an open set of `kind` (resolution codes are free text): the value
 * itself when it has no name, without counting it as untranslated. */
export function openLabel(kind, value) {
  const names = LABELS[lang()][kind] || {};
  return names[value] ?? value;
}

/** A `{de, en}` text of the configuration in the chosen language (German if no English). */
export function localized(text) {
  if (!text) return '';
  if (typeof text === 'string') return text;
  return (lang() === 'en' && text.en) || text.de;
}

const timeFormats = new Map();

/** An instant as date and time in Europe/Berlin, in the chosen language's format. */
export function formatTime(instant) {
  if (!instant) return '–';
  const date = new Date(instant);
  if (Number.isNaN(date.getTime())) return String(instant);
  const language = lang();
  if (!timeFormats.has(language)) {
    const locale = language === 'en' ? 'en-GB' : 'de-DE';
    timeFormats.set(language, new Intl.DateTimeFormat(locale, { timeZone: TIME_ZONE, dateStyle: 'medium', timeStyle: 'short' }));
  }
  return timeFormats.get(language).format(date);
}

/** Business minutes as hours and minutes. */
export function formatMinutes(minutes) {
  if (minutes === null || minutes === undefined) return '–';
  const sign = minutes < 0 ? '−' : '';
  const total = Math.abs(minutes);
  const hours = Math.floor(total / 60);
  const rest = total % 60;
  const [h, m] = lang() === 'en' ? ['h', 'min'] : ['Std.', 'Min.'];
  return hours > 0 ? `${sign}${hours} ${h} ${rest} ${m}` : `${sign}${rest} ${m}`;
}

/** Keys asked for but not translated (the browser tests require none). */
export function missingKeys() {
  return [...missing];
}

/** Every key and label of both languages, for the test that they match. */
export function catalogKeys() {
  const keys = (messages, labels) => [...Object.keys(messages), ...Object.entries(labels).flatMap(([kind, names]) => Object.keys(names).map((name) => `label.${kind}.${name}`))].sort();
  return { de: keys(MESSAGES.de, LABELS.de), en: keys(MESSAGES.en, LABELS.en) };
}
