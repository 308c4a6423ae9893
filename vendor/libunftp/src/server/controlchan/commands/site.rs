use crate::{
    auth::UserDetail,
    options::SiteCommandContext,
    server::controlchan::{
        Reply, ReplyCode,
        error::ControlChanError,
        handler::{CommandContext, CommandHandler},
    },
    storage::{Metadata, StorageBackend},
};
use async_trait::async_trait;

#[derive(Debug)]
pub struct Site {
    command: String,
    arguments: String,
    /// [ftpsync patch] a top-level command added with `ServerBuilder::command`, not `SITE <NAME>`.
    top_level: bool,
}

impl Site {
    pub fn new(command: String, arguments: String) -> Self {
        Site { command, arguments, top_level: false }
    }

    /// [ftpsync patch] The handler of a top-level command added with `ServerBuilder::command`.
    pub fn top_level(command: String, arguments: String) -> Self {
        Site { command, arguments, top_level: true }
    }

    /// Narrow a Command context into a SiteCommandContext
    async fn narrow<Storage, User>(&self, context: &CommandContext<Storage, User>) -> SiteCommandContext<Storage, User>
    where
        User: UserDetail,
        Storage: StorageBackend<User> + 'static,
        Storage::Metadata: Metadata,
    {
        let (username, storage, user, cwd) = {
            let session = context.session.lock().await;
            (session.username.clone(), session.storage.clone(), session.user.clone(), session.cwd.clone())
        };
        SiteCommandContext {
            command: self.command.clone(),
            arguments: self.arguments.clone(),
            username,
            storage,
            user,
            logger: context.logger.clone(),
            cwd, // [ftpsync patch]
        }
    }
}

#[async_trait]
impl<Storage, User> CommandHandler<Storage, User> for Site
where
    User: UserDetail,
    Storage: StorageBackend<User> + 'static,
    Storage::Metadata: Metadata,
{
    #[tracing_attributes::instrument]
    async fn handle(&self, context: CommandContext<Storage, User>) -> Result<Reply, ControlChanError> {
        let handlers = if self.top_level { &context.command_handlers } else { &context.site_handlers }; // [ftpsync patch]
        let Some(handler) = handlers.get(&self.command) else {
            return Ok(Reply::new(ReplyCode::CommandNotImplemented, "Unknown SITE command"));
        };
        let site_context = self.narrow(&context).await;
        Ok(handler.handle(&site_context).await)
    }
}
