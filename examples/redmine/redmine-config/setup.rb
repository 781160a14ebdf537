# strangler-fig: configuration of an unmodified Redmine, run once per database with `rails runner` after
# `rake db:migrate redmine:load_default_data`. Idempotent. Prints one JSON line: the admin's API key and the project.
#   REDMINE_PROJECT_IDENTIFIER  the project the tests use (default: strangler)
#   REDMINE_PROJECT_NAME        its name (default: Strangler)

# Administration > Settings > API > "Enable REST web service".
Setting.rest_api_enabled = '1' unless Setting.rest_api_enabled?

# "My account > API access key" of the admin user the package's migrations create (login admin).
admin = User.find_by_login!('admin')
api_key = admin.api_key

# One public project with every tracker of the default data.
identifier = ENV.fetch('REDMINE_PROJECT_IDENTIFIER', 'strangler')
project = Project.find_by(identifier: identifier) || Project.create!(
  name: ENV.fetch('REDMINE_PROJECT_NAME', 'Strangler'),
  identifier: identifier,
  is_public: true,
  description: 'Issues that strangler-fig moves to a service of their own and back',
  tracker_ids: Tracker.sorted.pluck(:id)
)

puts({ api_key: api_key, project_id: project.id, project_identifier: project.identifier }.to_json)
