// The person aggregate's translators (examples/redmine/mapping.yaml): Redmine keeps a user's first and last name
// apart, the service shows one name, as Redmine's default user format (firstname_lastname) prints it. Groups have
// no first name. The service never writes people, so toLegacy only has to round-trip what toService made.
'use strict';

exports.toService = ({ id, login, firstname, lastname }) => ({ id, login, name: [firstname, lastname].filter(Boolean).join(' ') });

exports.toLegacy = ({ id, login, name }) => {
  const [firstname, ...rest] = String(name).split(' ');
  return rest.length ? { id, login, firstname, lastname: rest.join(' ') } : { id, login, firstname: '', lastname: firstname };
};
